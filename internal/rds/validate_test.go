package rds

import (
	"errors"
	"strings"
	"testing"
)

func TestValidInstanceIdentifier(t *testing.T) {
	good := []string{"a", "db1", "my-db", "A" + strings.Repeat("b", 62)}
	bad := []string{"1db", "-db", "db-", "a--b", "a_b", "a.b", "a b", "A" + strings.Repeat("b", 63), "é"}
	for _, id := range good {
		if err := validInstanceIdentifier("DBInstanceIdentifier", id); err != nil {
			t.Errorf("%q refused: %v", id, err)
		}
	}
	for _, id := range bad {
		if err := validInstanceIdentifier("DBInstanceIdentifier", id); !errors.Is(err, ErrInvalidParameterValue) {
			t.Errorf("%q: %v, want InvalidParameterValue", id, err)
		}
	}
	if err := validInstanceIdentifier("DBInstanceIdentifier", ""); !errors.Is(err, ErrMissingParameter) {
		t.Errorf("empty: %v", err)
	}
}

func TestValidTags(t *testing.T) {
	for _, c := range []struct {
		tags []Tag
		ok   bool
	}{
		{[]Tag{{Key: "env", Value: "prod"}}, true},
		{[]Tag{{Key: "team name", Value: "a/b=c+d-e@f:g_h.i"}}, true},
		{[]Tag{{Key: "ключ", Value: "значение"}}, true},
		{[]Tag{{Key: "", Value: "x"}}, false},
		{[]Tag{{Key: strings.Repeat("k", 129), Value: "x"}}, false},
		{[]Tag{{Key: "k", Value: strings.Repeat("v", 257)}}, false},
		{[]Tag{{Key: "aws:owner", Value: "x"}}, false},
		{[]Tag{{Key: "RDS:thing", Value: "x"}}, false},
		{[]Tag{{Key: "a*b", Value: "x"}}, false},
		{[]Tag{{Key: "k", Value: "x"}, {Key: "k", Value: "y"}}, false},
	} {
		err := validTags(c.tags)
		if (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.tags, err)
		}
	}
}

func TestValidMasterCredentials(t *testing.T) {
	for _, u := range []string{"master", "admin_1", "A"} {
		if err := validMasterUsername(u); err != nil {
			t.Errorf("%q: %v", u, err)
		}
	}
	for _, u := range []string{"1admin", "pg_admin", "rdsadmin", "tealadmin", "a-b", strings.Repeat("a", 64)} {
		if err := validMasterUsername(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	for _, p := range []string{"short", "has space1", "has/slash", `has"quote`, "has@at12", strings.Repeat("p", 129)} {
		if err := validMasterPassword(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	if err := validMasterPassword("Str0ng!pass#"); err != nil {
		t.Error(err)
	}
}

func TestMergeTags(t *testing.T) {
	got := mergeTags([]Tag{{"a", "1"}, {"b", "2"}}, []Tag{{"b", "3"}, {"c", "4"}})
	want := []Tag{{"a", "1"}, {"b", "3"}, {"c", "4"}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
}

func TestResourceID(t *testing.T) {
	id := newResourceID()
	if len(id) != 29 || !strings.HasPrefix(id, "db-") || strings.Trim(id[3:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Fatalf("resource id %q", id)
	}
	if newResourceID() == id {
		t.Fatal("resource ids repeat")
	}
}
