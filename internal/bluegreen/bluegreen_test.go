package bluegreen

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	if id := NewIdentifier(); !regexp.MustCompile(`^bgd-[a-z0-9]{16}$`).MatchString(id) {
		t.Fatalf("identifier %q", id)
	}
	s := NewSuffix()
	if !regexp.MustCompile(`^[a-z0-9]{6}$`).MatchString(s) {
		t.Fatalf("suffix %q", s)
	}
	if g := GreenName("orders", "abc123"); g != "orders-green-abc123" {
		t.Fatalf("green name %q", g)
	}
	long := strings.Repeat("a", 60) + "-b"
	if g := GreenName(long, "abc123"); len(g) > 63 || !strings.HasSuffix(g, "-green-abc123") || strings.Contains(g, "--") {
		t.Fatalf("long green name %q (%d)", g, len(g))
	}
	taken := map[string]bool{"db-old1": true, "db-old2": true}
	if o := OldName("db", func(n string) bool { return taken[n] }); o != "db-old3" {
		t.Fatalf("old name %q", o)
	}
	if o := OldName("db", func(string) bool { return false }); o != "db-old1" {
		t.Fatalf("old name %q", o)
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"upgrade", "my-bgd-17", "A"} {
		if ValidName(n) != nil {
			t.Errorf("%q refused", n)
		}
	}
	for _, n := range []string{"", "1x", "a--b", "a-", "a_b", strings.Repeat("a", 61)} {
		if ValidName(n) == nil {
			t.Errorf("%q accepted", n)
		}
	}
	for _, s := range []int{30, 300, 3600} {
		if ValidTimeout(s) != nil {
			t.Errorf("timeout %d refused", s)
		}
	}
	for _, s := range []int{0, 29, 3601, -1} {
		if ValidTimeout(s) == nil {
			t.Errorf("timeout %d accepted", s)
		}
	}
}

func TestTasks(t *testing.T) {
	names := func(ts []Task) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(Tasks(false, false)); got != "CREATING_READ_REPLICA_OF_SOURCE,CONFIGURE_BACKUPS" {
		t.Fatal(got)
	}
	if got := names(Tasks(true, true)); got != "CREATING_READ_REPLICA_OF_SOURCE,DB_ENGINE_VERSION_UPGRADE,CREATING_TOPOLOGY_OF_SOURCE,CONFIGURE_BACKUPS" {
		t.Fatal(got)
	}
	ts := Tasks(true, false)
	SetTask(ts, TaskUpgrade, TaskCompleted)
	if ts[1].Status != TaskCompleted || ts[0].Status != TaskPending {
		t.Fatalf("%+v", ts)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		f        Finding
		blocking bool
	}{
		{Finding{Kind: FindNoPrimaryKey, Database: "app", Object: "public.log"}, false},
		{Finding{Kind: FindUnlogged, Database: "app", Object: "public.cache"}, true},
		{Finding{Kind: FindLargeObjects, Database: "app"}, true},
		{Finding{Kind: FindMaterializedView, Database: "app", Object: "public.mv"}, false},
		{Finding{Kind: FindExtension, Database: "app", Object: "pg_cron"}, false},
		{Finding{Kind: FindExtension, Database: "app", Object: "pg_partman"}, true},
		{Finding{Kind: FindExtension, Database: "app", Object: "pglogical"}, true},
		{Finding{Kind: FindReplicaTrigger, Database: "app", Object: "t on public.x"}, true},
		{Finding{Kind: FindLogicalPublisher, Database: "app", Object: "pub"}, true},
		{Finding{Kind: FindLogicalSubscriber, Database: "app", Object: "sub"}, true},
	} {
		got := Classify([]Finding{c.f}, "15")[0]
		if got.Blocking != c.blocking || got.Message == "" {
			t.Errorf("%s %s: blocking %v, message %q", c.f.Kind, c.f.Object, got.Blocking, got.Message)
		}
	}
	fs := Classify([]Finding{{Kind: FindNoPrimaryKey, Object: "a"}, {Kind: FindUnlogged, Object: "b"}}, "15")
	if !fs[0].Blocking || Blocking(fs) == "" || !strings.Contains(Blocking(fs), "unlogged") || strings.Contains(Blocking(fs), "primary key") {
		t.Fatalf("%+v / %q", fs, Blocking(fs))
	}
}

// The master user's functions block exactly where green's version would run
// them as superuser, and are not reported elsewhere.
func TestClassifyUserCode(t *testing.T) {
	for _, c := range []struct {
		kind, major string
		blocks      bool
	}{
		{FindApplyRunsUserCode, "14", true},
		{FindApplyRunsUserCode, "15", true},
		{FindApplyRunsUserCode, "16", false},
		{FindApplyRunsUserCode, "17", false},
		{FindApplyRunsUserCode, "18", false},
		{FindApplyRunsUserCode, "", true}, // unknown: the most exposed
		{FindIdentityRunsUserCode, "14", false},
		{FindIdentityRunsUserCode, "15", false},
		{FindIdentityRunsUserCode, "16", true},
		{FindIdentityRunsUserCode, "17", true},
		{FindIdentityRunsUserCode, "18", false},
		{FindIdentityRunsUserCode, "bad", true},
		{FindCopyRunsUserCode, "14", true},
		{FindCopyRunsUserCode, "17", true},
		{FindCopyRunsUserCode, "18", true},
	} {
		f := Finding{Kind: c.kind, Database: "app", Object: "public.guard(integer) in index public.items_guard"}
		if got := UserCodeRunsAsSuperuser(c.kind, c.major); got != c.blocks {
			t.Errorf("%s on %q: runs as superuser %v, want %v", c.kind, c.major, got, c.blocks)
		}
		fs := Classify([]Finding{f}, c.major)
		if !c.blocks {
			if len(fs) != 0 {
				t.Errorf("%s on %q: reported %+v", c.kind, c.major, fs)
			}
			continue
		}
		if len(fs) != 1 || !fs[0].Blocking {
			t.Fatalf("%s on %q: %+v", c.kind, c.major, fs)
		}
		msg := Blocking(fs)
		for _, want := range []string{"public.guard(integer)", "items_guard", "database app", "superuser"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s on %q: message %q lacks %q", c.kind, c.major, msg, want)
			}
		}
	}
	// The way out is named: a newer version where there is one.
	if msg := Blocking(Classify([]Finding{{Kind: FindApplyRunsUserCode, Object: "f() in index i"}}, "15")); !strings.Contains(msg, "PostgreSQL 16 or newer") {
		t.Errorf("apply message: %q", msg)
	}
	if msg := Blocking(Classify([]Finding{{Kind: FindIdentityRunsUserCode, Object: "f() in index i"}}, "17")); !strings.Contains(msg, "primary key") {
		t.Errorf("identity message: %q", msg)
	}
	// Dropping a finding keeps the others.
	fs := Classify([]Finding{{Kind: FindApplyRunsUserCode, Object: "f()"}, {Kind: FindNoPrimaryKey, Object: "t"}}, "17")
	if len(fs) != 1 || fs[0].Kind != FindNoPrimaryKey {
		t.Fatalf("%+v", fs)
	}
}

func TestGuardrails(t *testing.T) {
	healthy := Health{ReplicationHealthy: true}
	l := DefaultLimits(300 * time.Second)
	if g := Guardrails(healthy, l); len(g) != 0 {
		t.Fatalf("healthy deployment refused: %v", g)
	}
	for _, c := range []struct {
		name string
		h    Health
		want string
	}{
		{"not replicating", Health{ReplicationError: "subscription in app is not streaming"}, "not healthy"},
		{"lag", Health{ReplicationHealthy: true, LagSeconds: 200}, "replica lag"},
		{"byte lag", Health{ReplicationHealthy: true, LagBytes: 10 << 30}, "replica lag"},
		{"green writes", Health{ReplicationHealthy: true, GreenActiveWrites: 2}, "active write"},
		{"external", Health{ReplicationHealthy: true, BlueExternalSource: true}, "external replication"},
		{"long write", Health{ReplicationHealthy: true, BlueLongestWrite: 2 * time.Minute}, "write transaction"},
		{"long ddl", Health{ReplicationHealthy: true, BlueLongestDDL: time.Minute}, "DDL"},
		{"degraded", Health{ReplicationHealthy: true, Degraded: "DDL on blue"}, "degraded"},
		{"missing", Health{ReplicationHealthy: true, MissingMember: "green member x was deleted"}, "deleted"},
	} {
		g := Guardrails(c.h, l)
		if len(g) == 0 || !strings.Contains(strings.Join(g, ";"), c.want) {
			t.Errorf("%s: %v", c.name, g)
		}
	}
	// A short timeout tolerates less lag.
	if g := Guardrails(Health{ReplicationHealthy: true, LagSeconds: 20}, DefaultLimits(30*time.Second)); len(g) == 0 {
		t.Error("20 s of lag accepted for a 30 s timeout")
	}
}

func TestCommitted(t *testing.T) {
	for _, c := range []struct {
		phase string
		want  bool
	}{
		{PhaseGuardrails, false}, {PhaseHold, false}, {PhaseStopWrites, false}, {PhaseCatchUp, false},
		{PhaseSequences, false}, {PhaseCommitted, true}, {PhaseRelease, true}, {PhaseDone, true},
		{PhaseRolledBack, false}, {"", false},
	} {
		if got := Committed(c.phase); got != c.want {
			t.Errorf("Committed(%q) = %v", c.phase, got)
		}
	}
}
