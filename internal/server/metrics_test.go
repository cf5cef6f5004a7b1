package server

import (
	"net/http/httptest"
	"testing"
)

// TestMetricsAllowed: without a token only loopback clients are answered;
// with one, any client bringing it, and no client without it.
func TestMetricsAllowed(t *testing.T) {
	const token = "0123456789abcdef0123"
	for _, c := range []struct {
		remote, token, header string
		want                  bool
	}{
		{"127.0.0.1:5000", "", "", true},
		{"[::1]:5000", "", "", true},
		{"10.0.0.7:5000", "", "", false},
		{"10.0.0.7:5000", "", "Bearer anything", false},
		{"garbage", "", "", false},
		{"10.0.0.7:5000", token, "Bearer " + token, true},
		{"127.0.0.1:5000", token, "", false},
		{"127.0.0.1:5000", token, "Bearer " + token + "x", false},
		{"10.0.0.7:5000", token, "Basic " + token, false},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.RemoteAddr = c.remote
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		if got := metricsAllowed(r, c.token); got != c.want {
			t.Errorf("remote %s, token %q, header %q: %v, want %v", c.remote, c.token, c.header, got, c.want)
		}
	}
}
