package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCA: teal ca prints what the server's /ca.pem serves, and refuses an
// answer that is not a certificate.
func TestCA(t *testing.T) {
	const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ca.pem" {
			w.Write([]byte(pem))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if code := runCA(context.Background(), []string{"--endpoint-url", srv.URL + "/"}, &out, &errb); code != 0 || out.String() != pem {
		t.Fatalf("exit %d, printed %q, stderr %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := runCA(context.Background(), []string{"--endpoint-url", srv.URL + "/nothing"}, &out, &errb); code != 1 || out.Len() != 0 ||
		!strings.Contains(errb.String(), "404") {
		t.Fatalf("exit %d, printed %q, stderr %q", code, out.String(), errb.String())
	}
}
