package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestTmpCopySpeed(t *testing.T) {
	src := os.Getenv("TMPCOPY_SRC")
	if src == "" {
		t.Skip()
	}
	mode := os.Getenv("TMPMODE")
	for i := 0; i < 4; i++ {
		dst := fmt.Sprintf("/tmp/pgu/copy-dst-%d", i)
		if mode == "delete" {
			dst = "/tmp/pgu/copy-dst"
			os.RemoveAll(dst)
		}
		exec.Command("sync").Run()
		start := time.Now()
		if err := copyDataDir(context.Background(), src, dst, nil, nil); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s copy %s", mode, time.Since(start))
	}
}
