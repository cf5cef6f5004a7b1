package tlsca

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// TestIssueVerifies: a server certificate verifies against the CA for each
// of its hosts and for no other; the CA is the same after reopening, and
// its key is private.
func TestIssueVerifies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.PEM()) != string(ca.PEM()) {
		t.Fatal("reopening made a new CA")
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key: %v %v", fi.Mode(), err)
	}
	issued, err := ca.Issue([]string{"127.0.0.1", "db.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(issued.CertPEM, issued.KeyPEM); err != nil {
		t.Fatalf("key pair: %v", err)
	}
	block, _ := pem.Decode(issued.CertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM())
	for host, ok := range map[string]bool{"127.0.0.1": true, "db.example.test": true, "10.0.0.1": false, "other.test": false} {
		_, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host})
		if (err == nil) != ok {
			t.Errorf("%s: verify %v, want ok %v", host, err, ok)
		}
	}
	// Half a CA is refused, not silently replaced.
	if err := os.Remove(filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("a CA without its certificate was accepted")
	}
}
