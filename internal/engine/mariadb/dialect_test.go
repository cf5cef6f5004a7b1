package mariadb

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDialect(t *testing.T) {
	src := Source{Host: "127.0.0.1", Port: 3307, User: "repl", Password: `pa'ss\word`}
	tlsSrc := src
	tlsSrc.TLS = true
	maria, mysql := Dialect{Flavor: MariaDB}, Dialect{Flavor: MySQL}
	for _, c := range []struct {
		name      string
		maria, my string
	}{
		{"change source", maria.ChangeSource(src), mysql.ChangeSource(src)},
		{"change source over TLS", maria.ChangeSource(tlsSrc), mysql.ChangeSource(tlsSrc)},
		{"start", maria.StartReplica(), mysql.StartReplica()},
		{"stop", maria.StopReplica(), mysql.StopReplica()},
		{"reset", maria.ResetReplica(), mysql.ResetReplica()},
		{"status", maria.ReplicaStatus(), mysql.ReplicaStatus()},
		{"position", maria.GTIDPosition(), mysql.GTIDPosition()},
		{"wait", maria.WaitForPosition("0-1-42", 30*time.Second), mysql.WaitForPosition("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42", 30*time.Second)},
		{"parallel", strings.Join(maria.ParallelApply(4), "; "), strings.Join(mysql.ParallelApply(4), "; ")},
	} {
		want := map[string][2]string{
			"change source": {`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD='pa\'ss\\word', MASTER_USE_GTID=slave_pos`,
				`CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=3307, SOURCE_USER='repl', SOURCE_PASSWORD='pa\'ss\\word', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1`},
			"change source over TLS": {`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD='pa\'ss\\word', MASTER_USE_GTID=slave_pos, MASTER_SSL=1`,
				`CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=3307, SOURCE_USER='repl', SOURCE_PASSWORD='pa\'ss\\word', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_SSL=1`},
			"start":    {"START SLAVE", "START REPLICA"},
			"stop":     {"STOP SLAVE", "STOP REPLICA"},
			"reset":    {"RESET SLAVE ALL", "RESET REPLICA ALL"},
			"status":   {"SHOW SLAVE STATUS", "SHOW REPLICA STATUS"},
			"position": {"SELECT @@GLOBAL.gtid_binlog_pos", "SELECT @@GLOBAL.gtid_executed"},
			"parallel": {"SET GLOBAL slave_parallel_threads = 4; SET GLOBAL slave_parallel_mode = 'optimistic'",
				"SET GLOBAL replica_parallel_workers = 4; SET GLOBAL replica_preserve_commit_order = ON"},
			"wait": {"SELECT MASTER_GTID_WAIT('0-1-42', 30)",
				"SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42', 30)"},
		}[c.name]
		if c.maria != want[0] {
			t.Errorf("%s, MariaDB:\n got %s\nwant %s", c.name, c.maria, want[0])
		}
		if c.my != want[1] {
			t.Errorf("%s, MySQL:\n got %s\nwant %s", c.name, c.my, want[1])
		}
	}
	if got := maria.SetReadOnly(true); !reflect.DeepEqual(got, []string{"SET GLOBAL read_only = ON"}) {
		t.Errorf("MariaDB read-only: %v", got)
	}
	if got := mysql.SetReadOnly(true); !reflect.DeepEqual(got, []string{"SET GLOBAL super_read_only = ON"}) {
		t.Errorf("MySQL read-only: %v", got)
	}
	if got := mysql.SetReadOnly(false); !reflect.DeepEqual(got, []string{"SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF"}) {
		t.Errorf("MySQL writable: %v", got)
	}
	if got := maria.StartFrom("0-1-42"); !reflect.DeepEqual(got, []string{"SET GLOBAL gtid_slave_pos = '0-1-42'"}) {
		t.Errorf("MariaDB start position: %v", got)
	}
	if got := mysql.StartFrom("uuid:1-5"); !reflect.DeepEqual(got, []string{"RESET BINARY LOGS AND GTIDS", "SET GLOBAL gtid_purged = 'uuid:1-5'"}) {
		t.Errorf("MySQL start position: %v", got)
	}
	if _, ok := maria.Clone(src); ok {
		t.Error("MariaDB has no clone")
	}
	if q, ok := mysql.Clone(src); !ok || q != `CLONE INSTANCE FROM 'repl'@'127.0.0.1':3307 IDENTIFIED BY 'pa\'ss\\word'` {
		t.Errorf("MySQL clone: %q", q)
	}
}

func TestGTIDDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int64
	}{
		{"0-1-100", "0-1-90", 10},
		{"0-1-100", "0-1-100", 0},
		{"0-1-100,1-2-7", "0-1-99,1-2-2", 6},
		{"0-1-5", "", 5},
		{"", "0-1-5", 0},
	} {
		if got := gtidDistance(c.a, c.b); got != c.want {
			t.Errorf("gtidDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestOpenTransactions(t *testing.T) {
	// Abridged from SHOW ENGINE INNODB STATUS: connection 5 has a read
	// view, 4 has written, 9's transaction has not started.
	const maria = `LIST OF TRANSACTIONS FOR EACH SESSION:
---TRANSACTION 421, not started
0 lock struct(s), heap size 1128, 0 row lock(s)
MariaDB thread id 9, OS thread handle 140140556117000, query id 3 localhost root
---TRANSACTION (0x7f750426f680), ACTIVE 1 sec
0 lock struct(s), heap size 1128, 0 row lock(s)
MariaDB thread id 5, OS thread handle 140140556117696, query id 10 localhost root User sleep
do sleep(3)
---TRANSACTION 19, ACTIVE 1 sec
1 lock struct(s), heap size 1128, 0 row lock(s), undo log entries 1
MariaDB thread id 4, OS thread handle 140140556424896, query id 7 localhost root User sleep
--------
FILE I/O`
	got := Dialect{Flavor: MariaDB}.OpenTransactions(maria)
	if len(got) != 2 || !got["4"] || !got["5"] {
		t.Errorf("MariaDB: open transactions %v, want connections 4 and 5", got)
	}
	mysql := strings.ReplaceAll(maria, "MariaDB thread id", "MySQL thread id")
	if got := (Dialect{Flavor: MySQL}).OpenTransactions(mysql); len(got) != 2 || !got["4"] || !got["5"] {
		t.Errorf("MySQL: open transactions %v, want connections 4 and 5", got)
	}
	if got := (Dialect{Flavor: MySQL}).OpenTransactions(maria); len(got) != 0 {
		t.Errorf("MySQL read MariaDB's labels: %v", got)
	}
}
