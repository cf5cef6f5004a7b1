package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestCopyDataDirLeavesOutWhatTheServerOwns: a base backup copies the
// relations and leaves out the WAL (which the copy streams from its
// source), the running server's own files and the contents of the
// directories a new server starts empty, which it creates empty.
func TestCopyDataDirLeavesOutWhatTheServerOwns(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "data")
	files := map[string]string{
		"PG_VERSION":                       "15\n",
		"base/5/1259":                      "catalog",
		"base/16384/16397":                 strings.Repeat("x", 1<<20),
		"global/pg_control":                "control",
		"pg_wal/000000010000000000000001":  strings.Repeat("w", 1<<20),
		"pg_wal/archive_status/0000.ready": "",
		"pg_replslot/teal_x/state":         "slot",
		"pg_stat_tmp/global.stat":          "stats",
		"postmaster.pid":                   "123",
		"backup_label":                     "old label",
		"teal.conf":                        "port = 1",
		"pg_logical/replorigin_checkpoint": "origin",
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var copied atomic.Int64
	if err := copyDataDir(context.Background(), src, dst, nil, &copied); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dst, p)
		if d.IsDir() {
			rel += "/"
		}
		got = append(got, rel)
		return nil
	})
	sort.Strings(got)
	want := []string{"./", "PG_VERSION", "base/", "base/16384/", "base/16384/16397", "base/5/", "base/5/1259",
		"global/", "global/pg_control", "pg_logical/", "pg_logical/replorigin_checkpoint",
		"pg_replslot/", "pg_stat_tmp/", "pg_wal/", "pg_wal/archive_status/"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("copied:\n%s\nwant:\n%s", strings.Join(got, " "), strings.Join(want, " "))
	}
	if n := copied.Load(); n != 1<<20+int64(len("15\ncatalogcontrolorigin")) {
		t.Fatalf("%d bytes counted", n)
	}
}

// TestCopyFileRefusesLinkedDirectory: between the walk that lists blue's
// files and their copy, the server's OS user could swap a directory for a
// link to another one: the copy goes through no link, at any depth.
func TestCopyFileRefusesLinkedDirectory(t *testing.T) {
	src, elsewhere, dst := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "secret"), []byte("not blue's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(src, "base"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "base", "1"), []byte("blue's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(src, "swapped")); err != nil {
		t.Fatal(err)
	}
	root, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := copyFile(root, filepath.Join("base", "1"), filepath.Join(dst, "1"), nil, nil); err != nil {
		t.Fatalf("a plain file: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "1")); err != nil || string(got) != "blue's" {
		t.Fatalf("copied %q, %v", got, err)
	}
	if err := copyFile(root, filepath.Join("swapped", "secret"), filepath.Join(dst, "secret"), nil, nil); err == nil {
		t.Fatal("copied a file through a linked directory")
	}
	if _, err := os.Stat(filepath.Join(dst, "secret")); !os.IsNotExist(err) {
		t.Fatalf("the file behind the link is in the copy: %v", err)
	}
}

// TestCopyDirect: a large file is copied whole, whatever its length,
// with its bytes counted, and its whole blocks past the page cache: of
// the copy, at most the last part, shorter than a block, is in memory
// afterwards.
func TestCopyDirect(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{directChunk, directChunk + 1, 3*directChunk + 5*directAlign + 123, 2*directChunk - 1} {
		body := make([]byte, size)
		rand.Read(body)
		from, to := filepath.Join(dir, fmt.Sprint(size)), filepath.Join(dir, fmt.Sprint(size, ".copy"))
		if err := os.WriteFile(from, body, 0o600); err != nil {
			t.Fatal(err)
		}
		var copied atomic.Int64
		if err := copyDirectFile(from, to, &copied); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if resident := residentPages(t, to, size); resident > 1 {
			t.Fatalf("%d bytes: %d pages of the copy are in the page cache", size, resident)
		}
		got, err := os.ReadFile(to)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, body) || copied.Load() != int64(size) {
			t.Fatalf("%d bytes: copied %d bytes (counted %d), equal: %v", size, len(got), copied.Load(), bytes.Equal(got, body))
		}
	}
}

// TestWriteDirectRefused: a write O_DIRECT refuses (here a buffer not
// aligned in memory, which ext4 refuses) is written without it, and so is
// the rest of the file.
func TestWriteDirectRefused(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	out, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	flags, err := unix.FcntlInt(out.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(out.Fd(), unix.F_SETFL, flags|unix.O_DIRECT); err != nil {
		t.Skipf("no O_DIRECT here: %v", err)
	}
	p := directBuffers.Get().(*[]byte)
	defer directBuffers.Put(p)
	body := (*p)[1 : 1+2*directAlign]
	rand.Read(body)
	direct := true
	for _, part := range [][]byte{body[:directAlign], body[directAlign:]} {
		if err := writeDirect(out, part, flags, &direct); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("wrote %d bytes, equal: %v, %v", len(got), bytes.Equal(got, body), err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(name, &st); err == nil && st.Type == unix.EXT4_SUPER_MAGIC && direct {
		t.Fatal("ext4 took an unaligned O_DIRECT write")
	}
}

// copyDirectFile copies the file from to the new file to with copyDirect.
func copyDirectFile(from, to string, copied *atomic.Int64) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := copyDirect(out, in, copied); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// residentPages counts the pages of the first size bytes of the file name
// that are in the page cache.
func residentPages(t *testing.T, name string, size int) int {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	pages := make([]byte, (size+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&pages[0]))); errno != 0 {
		t.Fatal(errno)
	}
	resident := 0
	for _, p := range pages {
		resident += int(p & 1)
	}
	return resident
}
