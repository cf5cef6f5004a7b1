package rds

import (
	"testing"
	"time"
)

func TestBackupWindow(t *testing.T) {
	at := func(hm string) time.Time {
		tm, err := time.Parse("15:04", hm)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tt := range []struct {
		window, now string
		in          bool
	}{
		{"03:00-03:30", "03:00", true},
		{"03:00-03:30", "03:29", true},
		{"03:00-03:30", "03:30", false},
		{"03:00-03:30", "02:59", false},
		{"23:45-00:15", "23:50", true}, // across midnight
		{"23:45-00:15", "00:10", true},
		{"23:45-00:15", "00:15", false},
		{"", "12:00", true}, // no window: any time
	} {
		if got := inWindow(tt.window, at(tt.now)); got != tt.in {
			t.Errorf("inWindow(%q, %s) = %v", tt.window, tt.now, got)
		}
	}
	for _, bad := range []string{"3:00-03:30", "03:00", "24:00-01:00", "03:60-04:00", "03:00-03:30x", "aa:bb-cc:dd"} {
		if _, _, ok := parseWindow(bad); ok {
			t.Errorf("parseWindow(%q) accepted", bad)
		}
	}
}

func TestAutoBackupName(t *testing.T) {
	if got := autoBackupName("db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"); got != "ab-abcdefghijklmnopqrstuvwxyz" {
		t.Errorf("autoBackupName = %s", got)
	}
	if _, err := Name(TypeAutoBackup, "x", autoBackupName("db-ABCDEFGHIJKLMNOPQRSTUVWXYZ")); err != nil {
		t.Errorf("an automated backup's name is not a valid identifier: %v", err)
	}
}
