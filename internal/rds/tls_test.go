package rds

import (
	"strings"
	"testing"
)

// TestEndpointNames: what an operator gives as the endpoints' address and
// hostname is checked before anything listens or a certificate names it.
func TestEndpointNames(t *testing.T) {
	for h, ok := range map[string]bool{
		"db.internal": true, "DB.Example.test": true, "127.0.0.1": true, "10.0.0.5": true, "::1": true,
		"": false, "a b": false, "db.internal\nevil": false, "-db": false, "db_internal": false,
		"db..internal": false, strings.Repeat("a", 64): false, "db.internal/": false, "*.internal": false,
	} {
		if got := validHostname(h); got != ok {
			t.Errorf("hostname %q: %v, want %v", h, got, ok)
		}
	}
	for a, ok := range map[string]bool{
		"10.0.0.5": true, "127.0.0.1": true,
		"0.0.0.0": false, "::": false, "::1": false, "fe80::1": false, "10.0.0.5:80": false, "db.internal": false, "": false,
	} {
		if _, err := endpointIP(a); (err == nil) != ok {
			t.Errorf("address %q: %v, want ok %v", a, err, ok)
		}
	}
}
