package rds

import (
	"errors"
	"strings"
	"testing"
)

func TestSettleWindows(t *testing.T) {
	for _, c := range []struct {
		name                        string
		backup, maint               string // given
		curBackup, curMaint         string
		wantBackup, wantMaint, want string // want: a fragment of the fault, "" for none
	}{
		{name: "defaults", wantBackup: "03:00-03:30", wantMaint: "sun:05:00-sun:05:30"},
		{name: "both given", backup: "22:00-23:00", maint: "Tue:01:15-tue:02:00",
			wantBackup: "22:00-23:00", wantMaint: "tue:01:15-tue:02:00"},
		{name: "backup across midnight", backup: "23:45-00:15", wantBackup: "23:45-00:15", wantMaint: "sun:05:00-sun:05:30"},
		{name: "maintenance across the week's end", maint: "sun:23:50-mon:00:20",
			wantBackup: "03:00-03:30", wantMaint: "sun:23:50-mon:00:20"},
		{name: "default maintenance moves clear of the backup window", backup: "04:45-06:00",
			wantBackup: "04:45-06:00", wantMaint: "sun:06:00-sun:06:30"},
		{name: "default backup moves clear of the maintenance window", maint: "wed:02:00-wed:04:00",
			wantBackup: "04:00-04:30", wantMaint: "wed:02:00-wed:04:00"},
		{name: "current ones kept", curBackup: "10:00-10:30", curMaint: "fri:11:00-fri:11:30",
			wantBackup: "10:00-10:30", wantMaint: "fri:11:00-fri:11:30"},
		{name: "a new backup window against the current maintenance one", backup: "11:00-11:30",
			curBackup: "10:00-10:30", curMaint: "fri:11:00-fri:11:30", want: "must not overlap"},
		{name: "a new backup window clear of the current maintenance one", backup: "11:30-12:00",
			curBackup: "10:00-10:30", curMaint: "fri:11:00-fri:11:30", wantBackup: "11:30-12:00", wantMaint: "fri:11:00-fri:11:30"},
		{name: "adjacent windows", backup: "05:00-05:30", maint: "mon:05:30-mon:06:00",
			wantBackup: "05:00-05:30", wantMaint: "mon:05:30-mon:06:00"},
		{name: "overlap on a later day", backup: "05:00-05:30", maint: "sat:05:29-sat:06:00", want: "must not overlap"},
		{name: "a long maintenance window meets every day's backup", backup: "05:00-05:30", maint: "mon:00:00-tue:00:00", want: "must not overlap"},
		{name: "overlap across midnight", backup: "23:30-00:30", maint: "thu:00:00-thu:00:45", want: "must not overlap"},
		{name: "a backup window of 29 minutes", backup: "01:00-01:29", want: "at least 30 minutes"},
		{name: "an empty backup window", backup: "01:00-01:00", want: "at least 30 minutes"},
		{name: "a maintenance window of 29 minutes", maint: "mon:23:50-tue:00:19", want: "at least 30 minutes"},
		{name: "a one-digit hour", backup: "3:00-03:30", want: "hh24:mi-hh24:mi"},
		{name: "a signed hour", backup: "+3:00-03:30", want: "hh24:mi-hh24:mi"},
		{name: "a space", backup: " 03:00-03:30", want: "hh24:mi-hh24:mi"},
		{name: "hour 24", backup: "24:00-00:30", want: "hh24:mi-hh24:mi"},
		{name: "minute 60", backup: "03:60-04:30", want: "hh24:mi-hh24:mi"},
		{name: "a trailing newline", backup: "03:00-03:30\n", want: "hh24:mi-hh24:mi"},
		{name: "a maintenance window without days", maint: "05:00-05:30", want: "ddd:hh24:mi-ddd:hh24:mi"},
		{name: "an unknown day", maint: "sum:05:00-sum:05:30", want: "ddd:hh24:mi-ddd:hh24:mi"},
		{name: "a backup window in the maintenance format", backup: "sun:05:00-sun:05:30", want: "hh24:mi-hh24:mi"},
		{name: "a backup window leaving no room", backup: "00:00-23:45", want: "leaves no 30 minutes"},
		{name: "a maintenance window leaving no room", maint: "mon:00:00-sun:23:50", want: "leaves no 30 minutes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, m, err := settleWindows(c.backup, c.maint, c.curBackup, c.curMaint)
			if c.want != "" {
				var f *Fault
				if !errors.As(err, &f) || f.Code != "InvalidParameterValue" || !strings.Contains(f.Message, c.want) {
					t.Fatalf("got %q %q %v, want InvalidParameterValue with %q", b, m, err, c.want)
				}
				return
			}
			if err != nil || b != c.wantBackup || m != c.wantMaint {
				t.Fatalf("got %q %q %v, want %q %q", b, m, err, c.wantBackup, c.wantMaint)
			}
		})
	}
}
