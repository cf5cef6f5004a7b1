package server

import (
	"net/http/httptest"
	"testing"
)

// TestMetricsAllowed: without a token only loopback clients that name this
// server by a loopback address or localhost are answered (a rebound name
// is not); with one, any client bringing it, and no client without it.
func TestMetricsAllowed(t *testing.T) {
	const token = "0123456789abcdef0123"
	for _, c := range []struct {
		remote, token, header string
		want                  bool
		host                  string
	}{
		{"127.0.0.1:5000", "", "", true, ""},
		{"[::1]:5000", "", "", true, "[::1]:7480"},
		{"127.0.0.1:5000", "", "", true, "localhost:7480"},
		{"127.0.0.1:5000", "", "", false, "rebound.example:7480"},
		{"10.0.0.7:5000", "", "", false, ""},
		{"10.0.0.7:5000", "", "Bearer anything", false, ""},
		{"garbage", "", "", false, ""},
		{"10.0.0.7:5000", token, "Bearer " + token, true, ""},
		{"127.0.0.1:5000", token, "", false, ""},
		{"127.0.0.1:5000", token, "Bearer " + token + "x", false, ""},
		{"10.0.0.7:5000", token, "Basic " + token, false, ""},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.RemoteAddr, r.Host = c.remote, "127.0.0.1:7480"
		if c.host != "" {
			r.Host = c.host
		}
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		if got := metricsAllowed(r, c.token); got != c.want {
			t.Errorf("remote %s, token %q, header %q: %v, want %v", c.remote, c.token, c.header, got, c.want)
		}
	}
}
