package postgres

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tealdb/teal/internal/engine"
)

// TestChooseClient: pg_dump must be at least blue's major and its output
// must load into green, so the client's major lies in [source, target],
// the newest there, or else is a newer one whose output green accepts;
// otherwise the error says which versions would do.
func TestChooseClient(t *testing.T) {
	debian15 := Client{Major: 15, BinDir: "/usr/lib/postgresql/15/bin"}
	c17 := Client{Major: 17, BinDir: "/engines/postgresql-client-17/bin"}
	c18 := Client{Major: 18, BinDir: "/engines/postgresql-client-18/bin"}
	this := []Client{debian15, c17, c18}
	cases := []struct {
		name           string
		have           []Client
		source, target int
		want           Client
		wantErr        string // part of the error, "" for none
	}{
		{"same major, its own client", this, 15, 15, debian15, ""},
		{"15 to 16: no 16, so 15", this, 15, 16, debian15, ""},
		{"14 to 16: 15 dumps 14 and loads into 16", this, 14, 16, debian15, ""},
		{"16 to 17: the target's own", this, 16, 17, c17, ""},
		{"17 to 18: the target's own, not the source's", this, 17, 18, c18, ""},
		{"15 to 18: the target's own", this, 15, 18, c18, ""},
		{"14 to 18, no 18: newest below", []Client{debian15, c17}, 14, 18, c17, ""},
		{"order does not matter", []Client{c18, c17, debian15}, 16, 17, c17, ""},
		{"16 to 16: no 16, so the oldest newer, 17", this, 16, 16, c17, ""},
		{"14 to 14: 15's output loads into 14", this, 14, 14, debian15, ""},
		{"14 to 14: the oldest newer one", []Client{c18, c17, debian15}, 14, 14, debian15, ""},
		{"14 to 14 with only 17 and 18: 17", []Client{c18, c17}, 14, 14, c17, ""},
		{"16 to 16 with only 15: too old", []Client{debian15}, 16, 16, Client{}, "version 16 or newer, and none is installed (have 15;"},
		{"versions named", []Client{debian15}, 16, 18, Client{}, "copying PostgreSQL 16 to 18 needs pg_dump, pg_dumpall and psql of version 16 or newer"},
		{"nothing installed", nil, 15, 17, Client{}, "(have none;"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := chooseClient(c.have, c.source, c.target)
			if c.wantErr == "" {
				if err != nil || got != c.want {
					t.Fatalf("chooseClient(%d, %d) = %+v, %v; want %+v", c.source, c.target, got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("chooseClient(%d, %d) = %+v; want an error", c.source, c.target, got)
			}
			if !errors.Is(err, engine.ErrUnsupported) || !errors.Is(err, ErrNoClient) {
				t.Fatalf("error %v is not ErrUnsupported and ErrNoClient", err)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %q does not say %q", err, c.wantErr)
			}
		})
	}
}

func TestLoadableInto(t *testing.T) {
	script := "SET statement_timeout = 0;\nSET transaction_timeout = 0;\nSET lock_timeout = 0;\nCREATE TABLE t (transaction_timeout int);\n"
	if got := loadableInto(script, 17); got != script {
		t.Fatalf("17 keeps every line, got %q", got)
	}
	want := "SET statement_timeout = 0;\nSET lock_timeout = 0;\nCREATE TABLE t (transaction_timeout int);\n"
	if got := loadableInto(script, 16); got != want {
		t.Fatalf("16:\n got %q\nwant %q", got, want)
	}
	// Past the header a line may be inside a string the master wrote:
	// taking it out would end the string early and run what follows.
	hostile := "\\restrict abc\n--\nSET transaction_timeout = 0;\nSET client_encoding = 'UTF8';\n\n" +
		"COMMENT ON ROLE m IS 'x\nSET transaction_timeout = 0;';\nCOMMENT ON ROLE n IS '; ALTER ROLE m SUPERUSER; --';\n"
	want = "\\restrict abc\n--\nSET client_encoding = 'UTF8';\n\n" +
		"COMMENT ON ROLE m IS 'x\nSET transaction_timeout = 0;';\nCOMMENT ON ROLE n IS '; ALTER ROLE m SUPERUSER; --';\n"
	if got := loadableInto(hostile, 16); got != want {
		t.Fatalf("hostile script:\n got %q\nwant %q", got, want)
	}
}

// A database's name is the master user's to choose: whatever it holds, the
// connection string names that database on that server and nothing else.
func TestConnStringQuotesEveryValue(t *testing.T) {
	l := engine.Layout{SocketDir: "/var/lib/teal/x/run", Port: 5433}
	for _, db := range []string{"app", "x host=/tmp port=1", "it's", `back\slash' host='/tmp`, "a b\tc", "= '"} {
		admin, err := connConfig(l, db)
		if err != nil {
			t.Fatalf("%q: %v", db, err)
		}
		if admin.Database != db || admin.Host != l.SocketDir || admin.Port != 5433 {
			t.Errorf("admin session: database %q on %s:%d, want %q on %s:5433", admin.Database, admin.Host, admin.Port, db, l.SocketDir)
		}
		for _, s := range []string{connString(l, db), replicationConnString(l, db)} {
			cfg, err := pgconn.ParseConfig(s)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			if cfg.Database != db || cfg.Host != l.SocketDir || cfg.Port != 5433 {
				t.Errorf("%q: database %q on %s:%d, want %q on %s:5433", s, cfg.Database, cfg.Host, cfg.Port, db, l.SocketDir)
			}
		}
	}
}
