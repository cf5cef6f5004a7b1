package engine

import (
	"testing"
	"time"
)

func TestCopyProgressString(t *testing.T) {
	for _, c := range []struct {
		p    CopyProgress
		want string
	}{
		{CopyProgress{Phase: "copying roles"}, "copying roles"},
		{CopyProgress{Phase: "copying the data", Item: "tables", Done: 3, Total: 12}, "copying the data, 3 of 12 tables, 25%"},
		{CopyProgress{Phase: "copying the data", Item: "tables", Done: 1, Total: 4, Bytes: 300 << 20, BytesTotal: 600 << 20, Elapsed: 3 * time.Second},
			"copying the data, 1 of 4 tables, 300 MiB of about 600 MiB, 50%, 100 MiB/s, about 3s left"},
		{CopyProgress{Phase: "loading", Bytes: 1536, BytesTotal: 1024, Elapsed: 500 * time.Millisecond}, "loading, 1.5 KiB of about 1.5 KiB, 100%"},
		{CopyProgress{Phase: "loading", Bytes: 512}, "loading, 512 B"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.p, got, c.want)
		}
	}
	if f := (CopyProgress{Phase: "x"}).Fraction(); f != -1 {
		t.Errorf("nothing counted: fraction %v, want -1", f)
	}
}
