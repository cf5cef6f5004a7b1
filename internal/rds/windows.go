package rds

import (
	"regexp"
	"strings"
)

// An instance's two windows, in RDS's formats and in UTC:
// PreferredBackupWindow "hh24:mi-hh24:mi", every day, when the daily base
// backup is taken (backups.go); PreferredMaintenanceWindow
// "ddd:hh24:mi-ddd:hh24:mi", once a week. Each lasts at least 30 minutes
// and they must not overlap. teal does no maintenance of its own, so the
// maintenance window is kept and shown, and decides nothing.
//
// RDS picks each default at random from an 8-hour block of the region;
// teal picks fixed ones, moved on by half hours when the other window,
// given, overlaps them.
const (
	defaultBackupWindow      = "03:00-03:30"
	defaultMaintenanceWindow = "sun:05:00-sun:05:30"
)

const (
	minutesPerDay  = 24 * 60
	minutesPerWeek = 7 * minutesPerDay
	minWindow      = 30
)

var (
	backupWindowRE      = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$`)
	maintenanceWindowRE = regexp.MustCompile(`^(mon|tue|wed|thu|fri|sat|sun):(([01][0-9]|2[0-3]):[0-5][0-9])-(mon|tue|wed|thu|fri|sat|sun):(([01][0-9]|2[0-3]):[0-5][0-9])$`)
	weekdays            = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
)

// span is a stretch of time that repeats: start and length in minutes,
// start counted from midnight (a daily span) or from Monday's midnight (a
// weekly one).
type span struct{ start, length int }

// backupSpan reads a PreferredBackupWindow.
func backupSpan(w string) (span, error) {
	if !backupWindowRE.MatchString(w) {
		return span{}, invalidValue("Invalid PreferredBackupWindow %q: it must be in the format hh24:mi-hh24:mi, in UTC.", w)
	}
	from, to, _ := parseWindow(w)
	sp := span{from, (to - from + minutesPerDay) % minutesPerDay}
	if sp.length < minWindow {
		return span{}, invalidValue("Invalid PreferredBackupWindow %s: the backup window must be at least 30 minutes.", w)
	}
	return sp, nil
}

// maintenanceSpan reads a PreferredMaintenanceWindow, in lower case.
func maintenanceSpan(w string) (span, error) {
	m := maintenanceWindowRE.FindStringSubmatch(w)
	if m == nil {
		return span{}, invalidValue("Invalid PreferredMaintenanceWindow %q: it must be in the format ddd:hh24:mi-ddd:hh24:mi, "+
			"in UTC, the days mon, tue, wed, thu, fri, sat or sun.", w)
	}
	from, to, _ := parseWindow(m[2] + "-" + m[5])
	from += dayIndex(m[1]) * minutesPerDay
	to += dayIndex(m[4]) * minutesPerDay
	sp := span{from, (to - from + minutesPerWeek) % minutesPerWeek}
	if sp.length < minWindow {
		return span{}, invalidValue("Invalid PreferredMaintenanceWindow %s: the maintenance window must be at least 30 minutes.", w)
	}
	return sp, nil
}

func dayIndex(d string) int {
	for i, w := range weekdays {
		if w == d {
			return i
		}
	}
	return 0
}

// overlaps says whether a daily backup span meets a weekly maintenance
// span on any day.
func overlaps(backup, maintenance span) bool {
	for day := 0; day < 7; day++ {
		b := span{day*minutesPerDay + backup.start, backup.length}
		if meet(b, maintenance, minutesPerWeek) {
			return true
		}
	}
	return false
}

// meet says whether two spans on a circle of the given length share a
// minute.
func meet(a, b span, circle int) bool {
	return (b.start-a.start+circle)%circle < a.length || (a.start-b.start+circle)%circle < b.length
}

func formatBackupWindow(sp span) string {
	end := (sp.start + sp.length) % minutesPerDay
	return clock(sp.start) + "-" + clock(end)
}

func formatMaintenanceWindow(sp span) string {
	end := (sp.start + sp.length) % minutesPerWeek
	return weekdays[sp.start/minutesPerDay] + ":" + clock(sp.start%minutesPerDay) + "-" +
		weekdays[end/minutesPerDay] + ":" + clock(end%minutesPerDay)
}

func clock(m int) string {
	const digits = "0123456789"
	h, mi := m/60, m%60
	return string([]byte{digits[h/10], digits[h%10], ':', digits[mi/10], digits[mi%10]})
}

// settleWindows checks the windows a request gives and returns the
// instance's windows: the given ones, else the current ones, else the
// defaults (moved clear of the other window). Given windows must not
// overlap the other one.
func settleWindows(backup, maintenance, curBackup, curMaintenance string) (string, string, error) {
	maintenance = strings.ToLower(maintenance)
	given := backup != "" || maintenance != ""
	if backup == "" {
		backup = curBackup
	}
	if maintenance == "" {
		maintenance = curMaintenance
	}
	var b, m span
	var err error
	if backup != "" {
		if b, err = backupSpan(backup); err != nil {
			return "", "", err
		}
	}
	if maintenance != "" {
		if m, err = maintenanceSpan(maintenance); err != nil {
			return "", "", err
		}
	}
	switch {
	case backup == "" && maintenance == "":
		return defaultBackupWindow, defaultMaintenanceWindow, nil
	case backup == "":
		def, _ := backupSpan(defaultBackupWindow)
		b, ok := clearOf(def, minutesPerDay, func(c span) bool { return !overlaps(c, m) })
		if !ok {
			return "", "", invalidValue("The maintenance window %s leaves no 30 minutes of a day for the backup window.", maintenance)
		}
		return formatBackupWindow(b), maintenance, nil
	case maintenance == "":
		def, _ := maintenanceSpan(defaultMaintenanceWindow)
		m, ok := clearOf(def, minutesPerWeek, func(c span) bool { return !overlaps(b, c) })
		if !ok {
			return "", "", invalidValue("The backup window %s leaves no 30 minutes of a day for the maintenance window.", backup)
		}
		return backup, formatMaintenanceWindow(m), nil
	case given && overlaps(b, m):
		return "", "", invalidValue("The backup window %s and the maintenance window %s must not overlap.", backup, maintenance)
	}
	return backup, maintenance, nil
}

// clearOf returns def, or def moved on by half hours round the circle:
// the first that ok accepts.
func clearOf(def span, circle int, ok func(span) bool) (span, bool) {
	for shift := 0; shift < circle; shift += 30 {
		if c := (span{(def.start + shift) % circle, def.length}); ok(c) {
			return c, true
		}
	}
	return span{}, false
}
