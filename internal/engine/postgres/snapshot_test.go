package postgres

import (
	"reflect"
	"testing"
)

func TestBackupSegments(t *testing.T) {
	label := "START WAL LOCATION: 0/2FFFFD8 (file 000000030000000000000002)\nCHECKPOINT LOCATION: 0/3000060\nSTART TIMELINE: 3\n"
	const seg = 16 << 20
	for _, tt := range []struct {
		stop uint64
		want []string
	}{
		{0x2FFFFF0, []string{"000000030000000000000002"}},
		{0x3000000, []string{"000000030000000000000002"}}, // ends exactly at the boundary
		{0x3000010, []string{"000000030000000000000002", "000000030000000000000003"}},
		{0x1_00000010, nil}, // a later log file: segments 0x02..0xFF and one of log 1
	} {
		got, err := backupSegments(backupFiles{stopLSN: tt.stop, label: label}, seg)
		if err != nil {
			t.Fatalf("stop %X: %v", tt.stop, err)
		}
		if tt.want == nil {
			if len(got) != 255 || got[len(got)-1] != "000000030000000100000000" || got[len(got)-2] != "0000000300000000000000FF" {
				t.Fatalf("stop %X: %d segments ending %v", tt.stop, len(got), got[len(got)-2:])
			}
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("stop %X: %v, want %v", tt.stop, got, tt.want)
		}
	}
	if _, err := backupSegments(backupFiles{stopLSN: 0x1000000, label: label}, seg); err == nil {
		t.Error("a backup that ends before it starts")
	}
	if _, err := backupSegments(backupFiles{stopLSN: 0x3000010, label: "no label"}, seg); err == nil {
		t.Error("a label without its start")
	}
}
