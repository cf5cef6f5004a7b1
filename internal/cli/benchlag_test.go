package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchLagUsage: the options a user reads in --help, and refusals of
// bad values before anything is created.
func TestBenchLagUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runBench(context.Background(), []string{"lag", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d: %s", code, errOut.String())
	}
	for _, flag := range []string{"--scale", "--clients", "--duration", "--engine-version", "--target-version", "--json", "--chart"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("--help lacks %s:\n%s", flag, out.String())
		}
	}
	for _, args := range [][]string{
		{"--scale", "0"},
		{"--duration", "500ms"},
		{"--duration", "soon"},
		{"--clients", "many"},
	} {
		errOut.Reset()
		if code := runBench(context.Background(), append([]string{"lag"}, args...), &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, errOut.String())
		}
		if !strings.Contains(errOut.String(), "bench lag") {
			t.Errorf("%v: the refusal does not name the command: %s", args, errOut.String())
		}
	}
}
