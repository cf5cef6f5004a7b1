package server

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/tealdb/teal/internal/tlsca"
)

// TestAPITLSFiles: --tls-cert and --tls-key load the operator's pair; one
// without the other, a pair with --tls, or files that are not a pair are
// refused at start.
func TestAPITLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsca.Open(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.Issue([]string{"api.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.Issue([]string{"other.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	cert, key, otherKey := filepath.Join(dir, "api.pem"), filepath.Join(dir, "api.key"), filepath.Join(dir, "other.key")
	for path, data := range map[string][]byte{cert: issued.CertPEM, key: issued.KeyPEM, otherKey: other.KeyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7480}
	c, err := apiTLS(Config{TLSCert: cert, TLSKey: key}, nil, addr)
	if err != nil || c == nil || len(c.Certificates) != 1 {
		t.Fatalf("a good pair: %v %v", c, err)
	}
	if c, err := apiTLS(Config{}, nil, addr); c != nil || err != nil {
		t.Fatalf("no TLS asked: %v %v", c, err)
	}
	for name, cfg := range map[string]Config{
		"cert alone":     {TLSCert: cert},
		"key alone":      {TLSKey: key},
		"pair and --tls": {TLSCert: cert, TLSKey: key, TLS: true},
		"not a pair":     {TLSCert: cert, TLSKey: otherKey},
		"missing file":   {TLSCert: cert, TLSKey: filepath.Join(dir, "nothing")},
	} {
		if _, err := apiTLS(cfg, nil, addr); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
