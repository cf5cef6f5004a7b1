package postgres

import "testing"

// TestTruthy: rds.force_ssl is on for every spelling of true that
// parameter validation lets through, and off for every other.
func TestTruthy(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "on": true, "ON": true, "true": true, "True": true,
		"0": false, "off": false, "false": false, "": false} {
		if got := truthy(v); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}
