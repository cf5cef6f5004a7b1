package engine

import (
	"errors"
	"testing"
)

func TestResolve(t *testing.T) {
	builds := []Build{
		{Engine: "postgres", Version: "15.18"},
		{Engine: "postgres", Version: "17.10"},
		{Engine: "postgres", Version: "17.9"},
		{Engine: "postgres", Version: "14.23"},
	}
	for _, c := range []struct {
		want, got string
	}{
		{"17", "17.10"},
		{"17.9", "17.9"},
		{"17.10", "17.10"},
		{"15", "15.18"},
		{"", "17.10"},
		{"14.23", "14.23"},
	} {
		b, err := Resolve(builds, c.want)
		if err != nil || b.Version != c.got {
			t.Errorf("Resolve(%q) = %q, %v; want %q", c.want, b.Version, err, c.got)
		}
	}
	for _, bad := range []string{"16", "17.1", "1", "17.10.1", "abc"} {
		if _, err := Resolve(builds, bad); !errors.Is(err, ErrVersionNotFound) {
			t.Errorf("Resolve(%q): %v, want ErrVersionNotFound", bad, err)
		}
	}
}

func TestFamilyAndMajor(t *testing.T) {
	for _, c := range []struct {
		b             Build
		major, family string
	}{
		{Build{Engine: "postgres", Version: "17.10"}, "17", "postgres17"},
		{Build{Engine: "postgres", Version: "14.23"}, "14", "postgres14"},
		{Build{Engine: "mariadb", Version: "10.11.19"}, "10.11", "mariadb10.11"},
	} {
		if c.b.Major() != c.major || c.b.Family() != c.family {
			t.Errorf("%+v: major %q family %q", c.b, c.b.Major(), c.b.Family())
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"17.10", "17.9", 1}, {"9.6", "10.1", -1}, {"15.18", "15.18", 0}, {"10.11.19", "10.11.4", 1},
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
