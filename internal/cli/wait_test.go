package cli

import (
	"bytes"
	"testing"
	"time"
)

func TestProgressOnTerminal(t *testing.T) {
	// On a terminal the line is redrawn in place and a new status starts a
	// new line, so the history of statuses stays on screen.
	var b bytes.Buffer
	p := &progress{w: &b, tty: true}
	p.set("db1: creating", 0)
	p.redraw(time.Second)
	p.set("db1: creating", 2*time.Second)
	p.set("db1: available", 3*time.Second)
	p.finish()
	want := "\r\x1b[Kdb1: creating (0s)\r\x1b[Kdb1: creating (1s)\r\x1b[Kdb1: creating (2s)\n\r\x1b[Kdb1: available (3s)\n"
	if b.String() != want {
		t.Errorf("terminal progress %q, want %q", b.String(), want)
	}

	b.Reset()
	p = &progress{w: &b}
	p.set("db1: creating", 0)
	p.redraw(time.Second)
	p.set("db1: creating", 2*time.Second)
	p.set("db1: available", 3*time.Second)
	p.finish()
	if want := "db1: creating (0s)\ndb1: available (3s)\n"; b.String() != want {
		t.Errorf("plain progress %q, want %q", b.String(), want)
	}
}
