package rds

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogPortions(t *testing.T) {
	var lines []string
	for i := range 25 {
		lines = append(lines, fmt.Sprintf("line %02d", i))
	}
	text := strings.Join(lines, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "server.log")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		lines int
		want  string
	}{
		{3, "line 22\nline 23\nline 24\n"},
		{1, "line 24\n"},
		{0, text}, // at most 10000 lines: all of them
		{40, text},
	} {
		p, err := tailPortion(f, int64(len(text)), c.lines)
		if err != nil || p.LogFileData != c.want || p.Marker != fmt.Sprint(len(text)) || p.AdditionalDataPending {
			t.Errorf("tail %d lines: %+v %v, want %q", c.lines, p, err, c.want)
		}
	}
	if got := string(firstLines([]byte(text), 2)); got != "line 00\nline 01\n" {
		t.Errorf("first 2 lines: %q", got)
	}
	if got := string(firstLines([]byte("a\nb"), 5)); got != "a\nb" {
		t.Errorf("first lines of a short text: %q", got)
	}
}
