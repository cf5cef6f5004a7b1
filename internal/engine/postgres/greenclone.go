package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// A green is a physical copy of blue, as RDS makes one: no row is copied
// logically and no index is built. A green of a newer major is the copy
// upgraded in place (upgrade.go).
//
//  1. A physical slot keeps blue's WAL from before the file copy on; the
//     files are copied as for a read replica (cloneFiles).
//  2. Then a logical slot per database; each has its consistent point, and
//     every slot is advanced to the latest of them, P. A slot at P streams
//     exactly the transactions whose commit record starts at P or later.
//  3. The copy starts as a standby of blue with recovery_target_lsn = P
//     (not inclusive): it replays exactly the records that start before P,
//     then is promoted. So it holds what the slots skip, and nothing they
//     stream. Once it is promoted, the physical slot goes.
//  4. For a newer major, the copy is stopped and pg_upgrade makes green
//     of it, linking its files rather than copying them again.
//  5. Each database's subscription starts on its slot, its origin at P;
//     meanwhile what is left of an upgraded copy is removed.

var _ engine.GreenCloner = (*Engine)(nil)

// cloneSlotName is the physical slot that holds blue's WAL for a cloned green.
func cloneSlotName(id string) string { return "teal_" + sanitize(id) + "_clone" }

// Clones implements engine.GreenCloner: a green of blue's major version is
// cloned, and one of a newer major when both builds have what pg_upgrade
// needs; unless the engine is told to let subscriptions copy.
func (e *Engine) Clones(blue, green engine.Build) bool {
	if e.SubscriptionCopy {
		return false
	}
	return blue.Major() == green.Major() || upgradable(blue, green) == nil
}

// CloneSettings implements engine.GreenCloner: a copy's (see
// CopyStartSettings), and wal_retrieve_retry_interval. Up to 15 the
// logical replication launcher starts workers at most once per
// wal_retrieve_retry_interval (5 s by default), so the subscription of a
// second database enabled right after the first would wait that long.
func (e *Engine) CloneSettings(b engine.Build) map[string]string {
	out := e.CopyStartSettings(b)
	out["wal_retrieve_retry_interval"] = "100ms"
	return out
}

// CloneGreen implements engine.GreenCloner.
func (e *Engine) CloneGreen(ctx context.Context, blue, green engine.Layout, id string, progress func(engine.CopyProgress)) (engine.Replication, engine.Layout, error) {
	clone, follow, err := e.cloneGreen(ctx, blue, green, id, progress)
	return follow, clone, err
}

func (e *Engine) cloneGreen(ctx context.Context, blue, green engine.Layout, id string, progress func(engine.CopyProgress)) (engine.Layout, engine.Replication, error) {
	if progress == nil {
		progress = func(engine.CopyProgress) {}
	}
	// A copy to be upgraded recovers with blue's build, beside green's
	// data directory, which pg_upgrade fills.
	clone := green
	if blue.Build.Major() != green.Build.Major() {
		if err := upgradable(blue.Build, green.Build); err != nil {
			return clone, engine.Replication{}, err
		}
		clone.Build = blue.Build
		clone.DataDir = cloneDir(green)
	}
	dbs, _, err := prepareBlue(ctx, blue, id)
	if err != nil {
		return clone, engine.Replication{}, err
	}
	// What an interrupted earlier attempt left.
	physical := cloneSlotName(id)
	if err := e.DropReplicationSlot(ctx, blue, physical); err != nil {
		return clone, engine.Replication{}, err
	}
	for _, db := range dbs {
		if err := e.DropReplicationSlot(ctx, blue, slotNameFor(id, db)); err != nil {
			return clone, engine.Replication{}, err
		}
	}

	total := engine.DirSize(blue.DataDir)
	var copied atomic.Int64
	start := time.Now()
	report := func() {
		progress(engine.CopyProgress{Phase: "copying blue's files", Bytes: copied.Load(), BytesTotal: total, Elapsed: time.Since(start)})
	}
	// Green's own cluster for pg_upgrade is made while the files copy.
	var initDone chan error
	if clone.DataDir != green.DataDir {
		args, err := upgradeInitArgs(ctx, blue, green.Build)
		if err != nil {
			return clone, engine.Replication{}, err
		}
		initDone = make(chan error, 1)
		go func() { initDone <- initCluster(ctx, green, args...) }()
	}
	stop := reportEvery(500*time.Millisecond, report)
	err = cloneFiles(ctx, clone, engine.Replication{Source: blue, Slot: physical}, &copied)
	stop()
	if initDone != nil {
		if initErr := <-initDone; err == nil {
			err = initErr
		}
	}
	if err != nil {
		return clone, engine.Replication{}, err
	}
	report()

	progress(engine.CopyProgress{Phase: "creating the replication slots on blue"})
	points := map[string]uint64{}
	var at uint64
	for _, db := range dbs {
		dc, err := session(ctx, blue, db)
		if err != nil {
			return clone, engine.Replication{}, err
		}
		var lsn string
		err = dc.QueryRow(ctx, `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, slotNameFor(id, db)).Scan(&lsn)
		done(dc)
		if err != nil {
			return clone, engine.Replication{}, fmt.Errorf("create slot for %s: %w", db, err)
		}
		p, err := parseLSN(lsn)
		if err != nil {
			return clone, engine.Replication{}, err
		}
		points[db] = p
		at = max(at, p)
	}
	for db, p := range points {
		if p == at {
			continue
		}
		dc, err := session(ctx, blue, db)
		if err != nil {
			return clone, engine.Replication{}, err
		}
		_, err = dc.Exec(ctx, `SELECT pg_replication_slot_advance($1, $2::pg_lsn)`, slotNameFor(id, db), formatLSN(at))
		done(dc)
		if err != nil {
			return clone, engine.Replication{}, fmt.Errorf("advance slot of %s: %w", db, err)
		}
	}
	// Green's recovery stops at the first record from the point on: there
	// must be one even if no client writes.
	if len(dbs) > 0 {
		dc, err := session(ctx, blue, dbs[0])
		if err != nil {
			return clone, engine.Replication{}, err
		}
		err = Heartbeat(ctx, dc)
		done(dc)
		if err != nil {
			return clone, engine.Replication{}, fmt.Errorf("write past the point on blue: %w", err)
		}
	}
	progress(engine.CopyProgress{Phase: "recovering the copy to its consistent point"})
	return clone, engine.Replication{Source: blue, Slot: physical, StopAt: formatLSN(at)}, nil
}

// AwaitPromotion implements engine.GreenCloner.
func (e *Engine) AwaitPromotion(ctx context.Context, blue, clone engine.Layout, follow engine.Replication) error {
	deadline := time.Now().Add(time.Hour)
	for {
		c, err := session(ctx, clone, "postgres")
		if err == nil {
			var inRecovery bool
			err = c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
			done(c)
			if err == nil && !inRecovery {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the copy has not reached %s after an hour of recovery (%v)", follow.StopAt, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := e.DropReplicationSlot(ctx, blue, follow.Slot); err != nil {
		return err
	}
	// pg_upgrade recreates the copy's schema as a superuser: the copy must
	// hold nothing that would run the master's functions then, whatever
	// blue held when the deployment was created.
	dbs, err := UserDatabases(ctx, clone)
	if err != nil {
		return err
	}
	for _, db := range dbs {
		c, err := session(ctx, clone, db)
		if err != nil {
			return err
		}
		err = refuseUserCode(ctx, c, db, clone.Build.Major(), bluegreen.FindCopyRunsUserCode)
		done(c)
		if err != nil {
			return err
		}
	}
	return nil
}

// FinishClone implements engine.GreenCloner. What is left of an upgraded
// copy is removed meanwhile.
func (e *Engine) FinishClone(ctx context.Context, blue, green engine.Layout, id string, follow engine.Replication) (err error) {
	left := make(chan error, 1)
	go func() { left <- removeUpgradeLeftovers(green) }()
	defer func() {
		if lerr := <-left; err == nil {
			err = lerr
		}
	}()
	dbs, err := UserDatabases(ctx, blue)
	if err != nil {
		return err
	}
	for _, db := range dbs {
		// Green has blue's publication; it publishes nothing from green.
		c, err := session(ctx, green, db)
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, "DROP PUBLICATION IF EXISTS "+publicationName(id))
		done(c)
		if err != nil {
			return fmt.Errorf("drop blue's publication on green in %s: %w", db, err)
		}
		if err := subscribeAt(ctx, blue, green, id, db, follow.StopAt); err != nil {
			return err
		}
	}
	return nil
}

// parseLSN reads a WAL position written as PostgreSQL does: two
// hexadecimal halves, "16/B374D848".
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("WAL position %q", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("WAL position %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("WAL position %q: %w", s, err)
	}
	return h<<32 | l, nil
}

func formatLSN(p uint64) string { return fmt.Sprintf("%X/%X", p>>32, p&0xFFFFFFFF) }
