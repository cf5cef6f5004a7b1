package cli

import (
	"strings"
	"testing"
	"time"
)

func TestProgressBar(t *testing.T) {
	for status, want := range map[string]string{
		"bgd-1: PROVISIONING | Creating the green environment: copying the data of database app, 1 of 4 tables, 300 MiB of about 600 MiB, 50%": "[##########----------] ",
		"copying, 100%": "[####################] ",
		"copying, 0%":   "[--------------------] ",
		"bgd-1: AVAILABLE | Replicating: lag 0.012 s, 0 bytes": "",
	} {
		if got := bar(status); got != want {
			t.Errorf("bar(%q) = %q, want %q", status, got, want)
		}
	}
}

// On a terminal a status whose numbers move is redrawn in place with its
// bar; a new phase starts a new line.
func TestProgressTerminal(t *testing.T) {
	var out strings.Builder
	p := &progress{w: &out, tty: true}
	p.set("copying, 1 of 4 tables, 10%", time.Second)
	p.set("copying, 2 of 4 tables, 60%", 2*time.Second)
	p.set("building the indexes", 3*time.Second)
	p.finish()
	want := "\r\x1b[K[##------------------] copying, 1 of 4 tables, 10% (1s)" +
		"\r\x1b[K[############--------] copying, 2 of 4 tables, 60% (2s)\n" +
		"\r\x1b[Kbuilding the indexes (3s)\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
}

// In a log, a status that differs from the last only in its numbers is
// written at most every 10 s; another status at once.
func TestProgressLog(t *testing.T) {
	var out strings.Builder
	p := &progress{w: &out}
	p.set("copying, 1 of 4 tables, 10%", time.Second)
	p.set("copying, 2 of 4 tables, 60%", 2*time.Second)
	p.set("building the indexes", 3*time.Second)
	want := "copying, 1 of 4 tables, 10% (1s)\nbuilding the indexes (3s)\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
}
