package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tealdb/teal/internal/engine"
)

// A switchover's phases run while writes wait, and each opens admin
// sessions: a new server session costs milliseconds, a statement on an open
// one tens of microseconds. KeepConnections keeps admin sessions open on a
// server for as long as the switchover needs them; session and done use
// them where they are kept and open a session of their own otherwise.
type keeper struct {
	mu      sync.Mutex
	servers map[string]*keptServer      // by socket directory
	leased  map[*pgx.Conn]*pgxpool.Conn // kept sessions in use
}

type keptServer struct {
	holds int
	pools map[string]*pgxpool.Pool // by database
}

var kept = keeper{servers: map[string]*keptServer{}, leased: map[*pgx.Conn]*pgxpool.Conn{}}

// keptPerDB is how many sessions a kept server holds open per database: a
// switchover drains, reloads and ends sessions on one server at once.
const keptPerDB = 3

// KeepConnections implements engine.ConnectionKeeper: admin sessions to
// every database of the server are opened now and reused until release.
func (e *Engine) KeepConnections(ctx context.Context, l engine.Layout) (release func()) {
	kept.mu.Lock()
	s := kept.servers[l.SocketDir]
	if s == nil {
		s = &keptServer{pools: map[string]*pgxpool.Pool{}}
		kept.servers[l.SocketDir] = s
	}
	s.holds++
	kept.mu.Unlock()

	// Open them now, while writes still run: a failure here only means the
	// phases open their own.
	if dbs, err := UserDatabases(ctx, l); err == nil {
		var wg sync.WaitGroup
		for _, db := range dbs {
			for range keptPerDB {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if c, err := session(ctx, l, db); err == nil {
						defer done(c)
						// Only opens the session; a broken one is replaced
						// when it is next used (sessions are pinged first).
						_, _ = c.Exec(ctx, "SELECT 1")
					}
				}()
			}
		}
		wg.Wait()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			kept.mu.Lock()
			s.holds--
			var pools []*pgxpool.Pool
			if s.holds == 0 {
				delete(kept.servers, l.SocketDir)
				for _, p := range s.pools {
					pools = append(pools, p)
				}
			}
			kept.mu.Unlock()
			for _, p := range pools {
				p.Close()
			}
		})
	}
}

// session returns an admin session on db: a kept one if the server is kept,
// a new one otherwise. Give it back with done.
func session(ctx context.Context, l engine.Layout, db string) (*pgx.Conn, error) {
	kept.mu.Lock()
	s := kept.servers[l.SocketDir]
	var pool *pgxpool.Pool
	if s != nil {
		pool = s.pools[db]
		if pool == nil {
			var err error
			if pool, err = newKeptPool(l, db); err != nil {
				kept.mu.Unlock()
				return nil, err
			}
			s.pools[db] = pool
		}
	}
	kept.mu.Unlock()
	if pool == nil {
		return Connect(ctx, l, db)
	}
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", l.DataDir, err)
	}
	kept.mu.Lock()
	kept.leased[pc.Conn()] = pc
	kept.mu.Unlock()
	return pc.Conn(), nil
}

// done gives back a session from session: a kept one goes back to be
// reused (unless left inside a transaction), any other is closed.
func done(c *pgx.Conn) {
	kept.mu.Lock()
	pc, ok := kept.leased[c]
	delete(kept.leased, c)
	kept.mu.Unlock()
	if ok {
		pc.Release()
		return
	}
	c.Close(context.Background())
}

func newKeptPool(l engine.Layout, db string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cc, err := connConfig(l, db)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig = cc
	cfg.MaxConns = keptPerDB
	// A session whose server went away (a restart during the switchover)
	// is replaced rather than handed out: a round trip proves it alive.
	cfg.BeforeAcquire = func(ctx context.Context, c *pgx.Conn) bool {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return c.Ping(ctx) == nil
	}
	return pgxpool.NewWithConfig(context.Background(), cfg)
}
