// Package bench measures what clients see of teal: a TPC-B-like workload
// whose every acknowledged commit is recorded, so a switchover's write
// unavailability, failed transactions and lost commits can be counted, and
// the reports (table, JSON, SVG chart) of the measurements.
package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Styles of client.
const (
	Persistent = "persistent" // one connection per client, reconnect after an error
	PerTxn     = "per-txn"    // a new connection for every transaction
)

// Schema creates the workload's tables (scale × 100,000 accounts) through
// conn, replacing any earlier ones.
func Schema(ctx context.Context, conn *pgx.Conn, scale int) error {
	for _, q := range []string{
		`DROP TABLE IF EXISTS bench_history, bench_accounts, bench_tellers, bench_branches`,
		`CREATE TABLE bench_branches (bid int PRIMARY KEY, bbalance bigint NOT NULL DEFAULT 0)`,
		`CREATE TABLE bench_tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance bigint NOT NULL DEFAULT 0)`,
		`CREATE TABLE bench_accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance bigint NOT NULL DEFAULT 0)`,
		`CREATE TABLE bench_history (client int, seq bigint, aid int, delta int, at timestamptz DEFAULT now(), PRIMARY KEY (client, seq))`,
		fmt.Sprintf(`INSERT INTO bench_branches (bid) SELECT g FROM generate_series(1, %d) g`, scale),
		fmt.Sprintf(`INSERT INTO bench_tellers (tid, bid) SELECT g, (g - 1) / 10 + 1 FROM generate_series(1, %d) g`, scale*10),
		fmt.Sprintf(`INSERT INTO bench_accounts (aid, bid) SELECT g, (g - 1) / 100000 + 1 FROM generate_series(1, %d) g`, scale*100000),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("create workload tables: %w", err)
		}
	}
	return nil
}

// Commit is one acknowledged transaction.
type Commit struct {
	Client int
	Seq    int64
	At     time.Time
}

// Failure is one failed attempt.
type Failure struct {
	Client  int
	At      time.Time
	Connect bool // the connection could not be made
	Message string
}

// Workload runs clients against a DSN until stopped, recording every
// commit the server acknowledged and every failure.
type Workload struct {
	DSN     string
	Clients int
	Style   string
	Scale   int

	mu       sync.Mutex
	commits  []Commit
	failures []Failure
	stop     chan struct{}
	wg       sync.WaitGroup
}

// Start starts the clients.
func (w *Workload) Start() {
	w.stop = make(chan struct{})
	for i := 0; i < w.Clients; i++ {
		w.wg.Add(1)
		go w.client(i)
	}
}

// Stop stops the clients and waits for them.
func (w *Workload) Stop() {
	close(w.stop)
	w.wg.Wait()
}

func (w *Workload) client(id int) {
	defer w.wg.Done()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for seq := int64(0); ; seq++ {
		select {
		case <-w.stop:
			return
		default:
		}
		if conn == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			c, err := pgx.Connect(ctx, w.DSN)
			cancel()
			if err != nil {
				w.fail(Failure{Client: id, At: time.Now(), Connect: true, Message: err.Error()})
				time.Sleep(10 * time.Millisecond)
				continue
			}
			conn = c
		}
		err := w.transaction(conn, id, seq)
		if err != nil {
			w.fail(Failure{Client: id, At: time.Now(), Message: err.Error()})
		} else {
			w.mu.Lock()
			w.commits = append(w.commits, Commit{Client: id, Seq: seq, At: time.Now()})
			w.mu.Unlock()
		}
		if err != nil || w.Style == PerTxn {
			conn.Close(context.Background())
			conn = nil
		}
	}
}

// transaction is TPC-B's: three balance updates, a read and a history row,
// committed together. The history row's (client, seq) is the ledger entry.
func (w *Workload) transaction(conn *pgx.Conn, client int, seq int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	aid := rand.IntN(w.Scale*100000) + 1
	tid := rand.IntN(w.Scale*10) + 1
	bid := rand.IntN(w.Scale) + 1
	delta := rand.IntN(10001) - 5000
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("UPDATE bench_accounts SET abalance = abalance + $1 WHERE aid = $2", delta, aid)
	b.Queue("SELECT abalance FROM bench_accounts WHERE aid = $1", aid)
	b.Queue("UPDATE bench_tellers SET tbalance = tbalance + $1 WHERE tid = $2", delta, tid)
	b.Queue("UPDATE bench_branches SET bbalance = bbalance + $1 WHERE bid = $2", delta, bid)
	b.Queue("INSERT INTO bench_history (client, seq, aid, delta) VALUES ($1, $2, $3, $4)", client, seq, aid, delta)
	b.Queue("COMMIT")
	return conn.SendBatch(ctx, b).Close()
}

func (w *Workload) fail(f Failure) {
	w.mu.Lock()
	w.failures = append(w.failures, f)
	w.mu.Unlock()
}

// Snapshot copies what was recorded so far.
func (w *Workload) Snapshot() ([]Commit, []Failure) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Commit(nil), w.commits...), append([]Failure(nil), w.failures...)
}

// Verify counts acknowledged commits missing from the database behind conn,
// and ledger entries present more than once.
func Verify(ctx context.Context, conn *pgx.Conn, commits []Commit) (missing, duplicates int, err error) {
	rows, err := conn.Query(ctx, "SELECT client, seq, count(*) OVER (PARTITION BY client, seq) FROM bench_history")
	if err != nil {
		return 0, 0, fmt.Errorf("read the ledger: %w", err)
	}
	have := map[[2]int64]bool{}
	for rows.Next() {
		var c, s, n int64
		if err := rows.Scan(&c, &s, &n); err != nil {
			return 0, 0, err
		}
		if n > 1 {
			duplicates++
		}
		have[[2]int64{c, s}] = true
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	for _, c := range commits {
		if !have[[2]int64{int64(c.Client), c.Seq}] {
			missing++
		}
	}
	return missing, duplicates, nil
}

// Unavailability is the longest time in [from, to] without an acknowledged
// commit: what a writing client experiences as the outage.
func Unavailability(commits []Commit, from, to time.Time) time.Duration {
	ts := []time.Time{from, to}
	for _, c := range commits {
		if c.At.After(from) && c.At.Before(to) {
			ts = append(ts, c.At)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var gap time.Duration
	for i := 1; i < len(ts); i++ {
		gap = max(gap, ts[i].Sub(ts[i-1]))
	}
	return gap
}

// Percentile of durations (p in 0..100), nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// failureKind summarises a failure message for reports.
func failureKind(f Failure) string {
	if f.Connect {
		return "connect"
	}
	m := f.Message
	switch {
	case strings.Contains(m, "duplicate key"):
		return "duplicate key"
	case strings.Contains(m, "read-only"):
		return "read-only"
	case strings.Contains(m, "EOF"), strings.Contains(m, "closed"), strings.Contains(m, "reset"):
		return "connection closed"
	case strings.Contains(m, "57P01"):
		// The server ended the session (a drain between transactions).
		return "session ended"
	case strings.Contains(m, "timeout"):
		return "timeout"
	}
	return "other"
}
