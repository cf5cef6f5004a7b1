package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// trySuperuser is the master user's attempt to act as superuser from code
// that green evaluates while it replicates: an index expression calls it. It
// logs where it runs and as whom, then tries to write a server file into
// dir, which only a superuser may. Green's transactions are read-only, which
// forbids ALTER ROLE but not COPY TO a file (or TO PROGRAM).
func trySuperuser(dir string) string {
	return `
CREATE FUNCTION try_superuser() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RAISE WARNING 'try_superuser ran on % as %', current_setting('server_version_num'), current_user;
	BEGIN
		EXECUTE format('COPY (SELECT current_user) TO %L', '` + dir + `/' || current_setting('server_version_num'));
	EXCEPTION WHEN insufficient_privilege THEN NULL;
	END;
	RETURN 0;
END $$;
CREATE FUNCTION guard(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN n + public.try_superuser(); END $$;
CREATE TABLE items (id int PRIMARY KEY, n int);
CREATE INDEX items_guard ON items (guard(n));
INSERT INTO items VALUES (1, 1);`
}

// markersDir is where a superuser's COPY from trySuperuser could write, so
// that a test can fail.
func markersDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "teal-markers-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A run of trySuperuser's function, as inst's server log tells it.
type functionRun struct{ version, user string }

var trySuperuserRan = regexp.MustCompile(`try_superuser ran on (\d+) as (\S+)`)

func trySuperuserRuns(dir string, inst *rds.DBInstance) ([]functionRun, error) {
	log, err := os.ReadFile(filepath.Join(dir, "instances", inst.DbiResourceId, "server.log"))
	if err != nil {
		return nil, err
	}
	var runs []functionRun
	for _, m := range trySuperuserRan.FindAllStringSubmatch(string(log), -1) {
		runs = append(runs, functionRun{m[1], m[2]})
	}
	return runs, nil
}

// TestBlueGreenApplyRunsUserCode: on PostgreSQL 15 green applies rows as its
// superuser, so a deployment whose green runs 15 is refused while the master
// user's function sits in an index; a green on 17 applies them as the table's
// owner, so the same blue deploys there and the function stays powerless.
func TestBlueGreenApplyRunsUserCode(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "17")
	ctx := ctxFor(t, 4*time.Minute)
	blue := createPostgres(t, svc, "usercode", "15")
	markers := markersDir(t)
	bc := connect(t, blue, "app")
	if _, err := bc.Exec(ctx, trySuperuser(markers)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBParameterGroup(ctx, "other15", "postgres15", "a parameter change", nil); err != nil {
		t.Fatal(err)
	}

	for _, in := range []rds.CreateBlueGreenInput{
		{BlueGreenDeploymentName: "same-major", Source: blue.DBInstanceArn, TargetEngineVersion: "15"},
		{BlueGreenDeploymentName: "new-params", Source: blue.DBInstanceArn, TargetDBParameterGroupName: "other15"},
	} {
		_, err := svc.CreateBlueGreenDeployment(ctx, in)
		if !isFault(err, "SourceDatabaseNotSupportedFault") {
			t.Fatalf("%s: got %v, want SourceDatabaseNotSupportedFault", in.BlueGreenDeploymentName, err)
		}
		for _, want := range []string{"public.guard(integer)", "index public.items_guard", "superuser", "PostgreSQL 16 or newer"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: the refusal does not say %q: %v", in.BlueGreenDeploymentName, want, err)
			}
		}
	}
	if deps, _, err := svc.DescribeBlueGreenDeployments(ctx, "", nil, rds.Page{}); err != nil || len(deps) != 0 {
		t.Fatalf("refused requests created deployments: %+v %v", deps, err)
	}

	dep := createBlueGreen(t, svc, "to-17", blue.DBInstanceArn, "17", "")
	for _, f := range dep.Findings {
		if f.Kind == bluegreen.FindApplyRunsUserCode {
			t.Errorf("a green on 17 reports %+v", f)
		}
	}
	if _, err := bc.Exec(ctx, "INSERT INTO items VALUES (2, 2), (3, 3)"); err != nil {
		t.Fatal(err)
	}
	green := describe(t, svc, nameOf(dep.Target))
	gc := connect(t, green, "app")
	waitRows(t, gc, "items", 3)
	// Green evaluated the index on the rows it copied and applied, as the
	// table's owner: the master user, who could not write the file.
	eventually(t, 10*time.Second, "green logs the function's runs", func() error {
		runs, err := trySuperuserRuns(dir, green)
		if err != nil {
			return err
		}
		var on17 int
		for _, r := range runs {
			if r.user != masterUser {
				t.Fatalf("green ran the function as %s", r.user)
			}
			if strings.HasPrefix(r.version, "17") {
				on17++
			}
		}
		if on17 == 0 {
			return errorf("green's log shows no run of the function")
		}
		return nil
	})
	if files, _ := os.ReadDir(markers); len(files) != 0 {
		t.Fatalf("the function wrote a server file as superuser: %v", files[0].Name())
	}
	for _, side := range []struct {
		name string
		inst *rds.DBInstance
	}{{"blue", blue}, {"green", green}} {
		var super bool
		if err := connect(t, side.inst, "app").QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", masterUser).Scan(&super); err != nil {
			t.Fatal(err)
		}
		if super {
			t.Fatalf("the master user is superuser on %s", side.name)
		}
	}
}

// TestBlueGreenFoldedUserCode: PostgreSQL calls a function with constant
// arguments when it simplifies an expression, and some of that happens as
// superuser on green whatever its version: creating a generated column as
// green's schema is copied, and (16 and 17) opening the indexes of a table
// replicated with REPLICA IDENTITY FULL. Such a blue is refused where it
// would happen and only there.
func TestBlueGreenFoldedUserCode(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "17", "18")
	ctx := ctxFor(t, 3*time.Minute)
	blue := createPostgres(t, svc, "foldcode", "15")
	if _, err := connect(t, blue, "app").Exec(ctx, `
		CREATE FUNCTION bump(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN n + 1; END $$;
		CREATE TABLE totals (id int PRIMARY KEY, n int, m int GENERATED ALWAYS AS (n + bump(0)) STORED);
		CREATE TABLE tags (n int); -- no primary key: replicated with REPLICA IDENTITY FULL
		CREATE INDEX tags_bump ON tags ((n + bump(0)))`); err != nil {
		t.Fatal(err)
	}
	const generated, identity = "generated column public.totals.m", "index public.tags_bump"
	for _, c := range []struct {
		version       string
		says, notSays []string
	}{
		{"15", []string{generated, identity, "PostgreSQL 16 or newer"}, nil},
		{"17", []string{generated, identity, "REPLICA IDENTITY FULL"}, nil},
		{"18", []string{generated}, []string{identity}},
	} {
		_, err := svc.CreateBlueGreenDeployment(ctx, rds.CreateBlueGreenInput{
			BlueGreenDeploymentName: "to-" + c.version, Source: blue.DBInstanceArn, TargetEngineVersion: c.version})
		if !isFault(err, "SourceDatabaseNotSupportedFault") {
			t.Fatalf("to %s: got %v, want SourceDatabaseNotSupportedFault", c.version, err)
		}
		for _, want := range c.says {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("to %s: the refusal does not say %q: %v", c.version, want, err)
			}
		}
		for _, not := range c.notSays {
			if strings.Contains(err.Error(), not) {
				t.Errorf("to %s: the refusal names %q: %v", c.version, not, err)
			}
		}
	}
	if deps, _, err := svc.DescribeBlueGreenDeployments(ctx, "", nil, rds.Page{}); err != nil || len(deps) != 0 {
		t.Fatalf("refused requests created deployments: %+v %v", deps, err)
	}
}

// TestBlueGreenTealObjectsGuarded: teal's own objects in a user database run
// as its superuser. A heartbeat the master made first, with a trigger on it,
// refuses the deployment rather than running the trigger; and while green
// replicates, the master cannot change its schema (green's read-only
// setting is only a session default), so it cannot plant code there for
// the apply to run. After the switchover the guard is gone.
func TestBlueGreenTealObjectsGuarded(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "17")
	ctx := ctxFor(t, 4*time.Minute)
	blue := createPostgres(t, svc, "guarded", "15")
	bc := connect(t, blue, "app")
	if _, err := bc.Exec(ctx, `CREATE TABLE items (id int PRIMARY KEY, n int);
		CREATE SCHEMA teal;
		CREATE TABLE teal.heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL);
		CREATE FUNCTION public.on_heartbeat() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN EXECUTE 'ALTER ROLE master SUPERUSER'; RETURN NEW; END $$;
		CREATE TRIGGER on_heartbeat BEFORE INSERT OR UPDATE ON teal.heartbeat FOR EACH ROW EXECUTE FUNCTION public.on_heartbeat();`); err != nil {
		t.Fatal(err)
	}
	d, err := svc.CreateBlueGreenDeployment(ctx, rds.CreateBlueGreenInput{BlueGreenDeploymentName: "guarded-1",
		Source: blue.DBInstanceArn, TargetEngineVersion: "17"})
	if err != nil {
		t.Fatal(err)
	}
	failed := waitDeployment(t, svc, d.BlueGreenDeploymentIdentifier, 2*time.Minute, bluegreen.StatusInvalidConfiguration, bluegreen.StatusAvailable)
	if failed.Status != bluegreen.StatusInvalidConfiguration || !strings.Contains(failed.StatusDetails, "schema teal") {
		t.Fatalf("deployment with the master's heartbeat: %s: %s", failed.Status, failed.StatusDetails)
	}
	if isSuperuser(t, bc) {
		t.Fatal("the master's trigger on teal's heartbeat ran as superuser")
	}
	if _, err := svc.DeleteBlueGreenDeployment(ctx, d.BlueGreenDeploymentIdentifier, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the refused deployment is gone", func() error {
		if _, _, err := svc.DescribeBlueGreenDeployments(ctx, d.BlueGreenDeploymentIdentifier, nil, rds.Page{}); !isFault(err, "BlueGreenDeploymentNotFoundFault") {
			return errorf("%v", err)
		}
		return nil
	})
	// The master's schema was refused, not taken: deleting the deployment
	// leaves it and what is in it.
	if n := count(t, bc, "SELECT count(*) FROM pg_trigger WHERE tgname = 'on_heartbeat' AND tgrelid = to_regclass('teal.heartbeat')"); n != 1 {
		t.Fatalf("deleting the refused deployment dropped the master's schema teal (%d of its triggers left)", n)
	}
	if _, err := bc.Exec(ctx, "DROP SCHEMA teal CASCADE"); err != nil {
		t.Fatal(err)
	}

	dep := createBlueGreen(t, svc, "guarded-2", blue.DBInstanceArn, "17", "")
	green := describe(t, svc, nameOf(dep.Target))
	gc := connect(t, green, "app")
	if _, err := gc.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE FUNCTION planted(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n'",
		"CREATE INDEX planted ON items (n)",
		"ALTER TABLE items ADD CHECK (n > 0)",
		"DROP EVENT TRIGGER teal_green_guard",
		"DROP SCHEMA teal_green_guard CASCADE",
	} {
		if _, err := gc.Exec(ctx, q); err == nil {
			t.Errorf("green accepted from the master: %s", q)
		}
	}
	// Rows still replicate through the guard.
	if _, err := bc.Exec(ctx, "INSERT INTO items VALUES (1, 1)"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "green has blue's row", func() error {
		if n := count(t, gc, "SELECT count(*) FROM items"); n != 1 {
			return errorf("green has %d rows", n)
		}
		return nil
	})
	gc.Close(ctx)

	timeout := 60
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, dep.BlueGreenDeploymentIdentifier, &timeout); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, svc, dep.BlueGreenDeploymentIdentifier, 2*time.Minute, bluegreen.StatusSwitchoverCompleted)
	prod := connect(t, describe(t, svc, "guarded"), "app")
	if _, err := prod.Exec(ctx, "CREATE INDEX after_switchover ON items (n)"); err != nil {
		t.Fatalf("the new production refuses the master's DDL: %v", err)
	}
}

// TestBlueGreenBuiltinsRunUserCode: the master user's function reached
// without naming it where green evaluates it. A check constraint calls
// query_to_xml with a query that calls the function; an index calls a
// function the master added to a trusted extension it created. A green on
// 15 would run both as its superuser and is refused. A green on 16 is
// copied by teal table by table, each as its owner, and applies rows as
// the table's owner: the function runs as the master.
func TestBlueGreenBuiltinsRunUserCode(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "16")
	ctx := ctxFor(t, 4*time.Minute)
	markers := markersDir(t)

	blue := createPostgres(t, svc, "evals", "15")
	bc := connect(t, blue, "app")
	if _, err := bc.Exec(ctx, strings.Replace(trySuperuser(markers), "CREATE INDEX items_guard ON items (guard(n));", "", 1)+`
		CREATE TABLE evals (id int PRIMARY KEY,
			n int CHECK (query_to_xml('SELECT public.try_superuser()', false, false, '') IS NOT NULL));
		INSERT INTO evals VALUES (1, 1);`); err != nil {
		t.Fatal(err)
	}
	ext := createPostgres(t, svc, "extmember", "15")
	if _, err := connect(t, ext, "app").Exec(ctx, `CREATE EXTENSION citext;
		CREATE FUNCTION hidden(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN n; END $$;
		ALTER EXTENSION citext ADD FUNCTION hidden(int);
		CREATE TABLE items (id int PRIMARY KEY, n int);
		CREATE INDEX items_hidden ON items (hidden(n));`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		source *rds.DBInstance
		want   []string
	}{
		{blue, []string{"pg_catalog.query_to_xml(", "check constraint evals_check on table public.evals", "PostgreSQL 16 or newer"}},
		{ext, []string{"public.hidden(integer)", "index public.items_hidden", "PostgreSQL 16 or newer"}},
	} {
		_, err := svc.CreateBlueGreenDeployment(ctx, rds.CreateBlueGreenInput{
			BlueGreenDeploymentName: c.source.DBInstanceIdentifier + "-15", Source: c.source.DBInstanceArn, TargetEngineVersion: "15"})
		if !isFault(err, "SourceDatabaseNotSupportedFault") {
			t.Fatalf("%s to 15: got %v, want SourceDatabaseNotSupportedFault", c.source.DBInstanceIdentifier, err)
		}
		for _, want := range c.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s to 15: the refusal does not say %q: %v", c.source.DBInstanceIdentifier, want, err)
			}
		}
	}

	dep := createBlueGreen(t, svc, "evals-16", blue.DBInstanceArn, "16", "")
	if _, err := bc.Exec(ctx, "INSERT INTO evals VALUES (2, 2)"); err != nil {
		t.Fatal(err)
	}
	green := describe(t, svc, nameOf(dep.Target))
	gc := connect(t, green, "app")
	waitRows(t, gc, "evals", 2)
	// Green ran the function for the row it copied and the one it
	// applied, each time as the master, who could not write the file.
	eventually(t, 10*time.Second, "green logs the function's runs", func() error {
		runs, err := trySuperuserRuns(dir, green)
		if err != nil {
			return err
		}
		for _, r := range runs {
			if r.user != masterUser {
				t.Fatalf("green ran the function as %s", r.user)
			}
		}
		if len(runs) < 2 {
			return errorf("green's log shows %d runs of the function, want the copy's and the apply's", len(runs))
		}
		return nil
	})
	if files, _ := os.ReadDir(markers); len(files) != 0 {
		t.Fatalf("the function wrote a server file as superuser: %v", files[0].Name())
	}
	var super bool
	if err := gc.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", masterUser).Scan(&super); err != nil || super {
		t.Fatalf("the master user is superuser on green: %v %v", super, err)
	}
}

// waitRows waits until table holds want rows on c, as replication brings
// them.
func waitRows(t *testing.T, c *pgx.Conn, table string, want int) {
	t.Helper()
	eventually(t, 30*time.Second, "rows replicated to "+table, func() error {
		var n int
		if err := c.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != want {
			return errorf("%d rows, %v", n, err)
		}
		return nil
	})
}
