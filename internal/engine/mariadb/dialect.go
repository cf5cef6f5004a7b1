// Package mariadb will implement teal's engine interface for MariaDB, and
// for MySQL 8 where a MySQL server is installed. The statements in which the
// two differ live here, in one place, so that a MySQL server is a
// configuration away.
package mariadb

import (
	"fmt"
	"strings"
	"time"
)

// Flavors of the MySQL family.
const (
	MariaDB = "mariadb"
	MySQL   = "mysql"
)

// Dialect generates the statements that differ between MariaDB and MySQL 8.
type Dialect struct {
	Flavor string
}

// Source is where a replica replicates from.
type Source struct {
	Host     string
	Port     int
	User     string
	Password string
	TLS      bool // the source serves TLS: replicate over it (require_secure_transport may be on)
}

// quote makes a SQL string literal; backslashes escape in both servers'
// default SQL mode.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// ChangeSource points a replica at its source, positioned by GTID.
func (d Dialect) ChangeSource(s Source) string {
	if d.Flavor == MySQL {
		ssl := ""
		if s.TLS {
			ssl = ", SOURCE_SSL=1"
		}
		return fmt.Sprintf("CHANGE REPLICATION SOURCE TO SOURCE_HOST=%s, SOURCE_PORT=%d, SOURCE_USER=%s, SOURCE_PASSWORD=%s, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1%s",
			quote(s.Host), s.Port, quote(s.User), quote(s.Password), ssl)
	}
	ssl := ""
	if s.TLS {
		ssl = ", MASTER_SSL=1"
	}
	return fmt.Sprintf("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%d, MASTER_USER=%s, MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos%s",
		quote(s.Host), s.Port, quote(s.User), quote(s.Password), ssl)
}

// StartReplica starts replication.
func (d Dialect) StartReplica() string {
	if d.Flavor == MySQL {
		return "START REPLICA"
	}
	return "START SLAVE"
}

// StopReplica stops replication.
func (d Dialect) StopReplica() string {
	if d.Flavor == MySQL {
		return "STOP REPLICA"
	}
	return "STOP SLAVE"
}

// ParallelApply makes the replica apply transactions on several threads,
// committing them in the source's order. Set while replication is stopped.
func (d Dialect) ParallelApply(threads int) []string {
	if d.Flavor == MySQL {
		return []string{fmt.Sprintf("SET GLOBAL replica_parallel_workers = %d", threads),
			"SET GLOBAL replica_preserve_commit_order = ON"}
	}
	return []string{fmt.Sprintf("SET GLOBAL slave_parallel_threads = %d", threads),
		"SET GLOBAL slave_parallel_mode = 'optimistic'"}
}

// ResetReplica forgets the source entirely, as after a switchover.
func (d Dialect) ResetReplica() string {
	if d.Flavor == MySQL {
		return "RESET REPLICA ALL"
	}
	return "RESET SLAVE ALL"
}

// OpenTransactions finds, in the text of SHOW ENGINE INNODB STATUS, the
// connections with a transaction under way. The list is live, unlike
// information_schema.innodb_trx, which may be 0.1 s old. Each such
// transaction is a "---TRANSACTION ..., ACTIVE" entry followed by a line
// naming its connection: "MariaDB thread id N," or "MySQL thread id N,".
func (d Dialect) OpenTransactions(status string) map[string]bool {
	label := "MariaDB thread id "
	if d.Flavor == MySQL {
		label = "MySQL thread id "
	}
	open := map[string]bool{}
	active := false
	for _, line := range strings.Split(status, "\n") {
		switch {
		case strings.HasPrefix(line, "---TRANSACTION "):
			active = strings.Contains(line, ", ACTIVE")
		case active && strings.HasPrefix(line, label):
			id, _, _ := strings.Cut(strings.TrimPrefix(line, label), ",")
			open[id] = true
			active = false
		}
	}
	return open
}

// ReplicaStatus shows the replication threads' state.
func (d Dialect) ReplicaStatus() string {
	if d.Flavor == MySQL {
		return "SHOW REPLICA STATUS"
	}
	return "SHOW SLAVE STATUS"
}

// SetReadOnly makes the server refuse writes (or accept them again). MySQL's
// super_read_only also stops users with SUPER, and implies read_only.
func (d Dialect) SetReadOnly(on bool) []string {
	v := "OFF"
	if on {
		v = "ON"
	}
	if d.Flavor == MySQL {
		if on {
			return []string{"SET GLOBAL super_read_only = ON"}
		}
		return []string{"SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF"}
	}
	return []string{"SET GLOBAL read_only = " + v}
}

// GTIDPosition is a query for the server's executed GTID position, in the
// flavor's own format (MariaDB: domain-server-sequence; MySQL: uuid:interval
// sets).
func (d Dialect) GTIDPosition() string {
	if d.Flavor == MySQL {
		return "SELECT @@GLOBAL.gtid_executed"
	}
	return "SELECT @@GLOBAL.gtid_binlog_pos"
}

// StartFrom sets where a new replica, restored from a dump taken at pos,
// starts replicating.
func (d Dialect) StartFrom(pos string) []string {
	if d.Flavor == MySQL {
		return []string{"RESET BINARY LOGS AND GTIDS", "SET GLOBAL gtid_purged = " + quote(pos)}
	}
	return []string{"SET GLOBAL gtid_slave_pos = " + quote(pos)}
}

// WaitForPosition is a query that waits until the server has applied pos,
// or the timeout passes. Its result is 0 on success in both flavors.
func (d Dialect) WaitForPosition(pos string, timeout time.Duration) string {
	secs := int(timeout.Seconds())
	if d.Flavor == MySQL {
		return fmt.Sprintf("SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %d)", quote(pos), secs)
	}
	return fmt.Sprintf("SELECT MASTER_GTID_WAIT(%s, %d)", quote(pos), secs)
}

// Clone copies a whole running server into this one, where the flavor can:
// MySQL's clone plugin can; MariaDB cannot (teal uses a dump or
// mariabackup instead).
func (d Dialect) Clone(s Source) (string, bool) {
	if d.Flavor == MySQL {
		return fmt.Sprintf("CLONE INSTANCE FROM %s@%s:%d IDENTIFIED BY %s", quote(s.User), quote(s.Host), s.Port, quote(s.Password)), true
	}
	return "", false
}
