package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// A server's user may plant links where teal writes: WriteOwned follows
// none, neither at its temporary name nor at the file's own.
func TestWriteOwnedFollowsNoLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "teal.conf")
	for _, link := range []string{filepath.Join(dir, ".teal.conf.1.tmp"), conf} {
		os.Remove(link)
		if err := os.Symlink(victim, link); err != nil {
			t.Fatal(err)
		}
		if err := WriteOwned(conf, []byte("port = 5432\n"), nil); err != nil {
			t.Fatalf("link at %s: %v", filepath.Base(link), err)
		}
		if got, _ := os.ReadFile(victim); string(got) != "keep" {
			t.Fatalf("link at %s: the file it names was written: %q", filepath.Base(link), got)
		}
		if fi, err := os.Lstat(conf); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("link at %s: %s is not a regular file (%v)", filepath.Base(link), conf, err)
		}
		if got, _ := os.ReadFile(conf); string(got) != "port = 5432\n" {
			t.Fatalf("link at %s: wrote %q", filepath.Base(link), got)
		}
	}
}
