package deployment

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tealdb/teal/internal/engine"
)

// Watcher is what watching a deployment's replication needs of the rest
// of teal.
type Watcher interface {
	// Heartbeat records the time on blue, for lag in seconds.
	Heartbeat(ctx context.Context) error
	// Replication measures the replication from blue to green.
	Replication(ctx context.Context) (engine.ReplicationStatus, error)
	// Schema summarises blue's schema now.
	Schema(ctx context.Context) (engine.SchemaState, error)
	// Live publishes a measurement (not saved: it is measured again).
	Live(st engine.ReplicationStatus, err error)
	// Degrade saves the deployment as degraded, for why, unless it is
	// already, or a switchover has started.
	Degrade(why string) error
}

// Watch measures a deployment once: it beats on blue, measures lag, and
// marks the deployment degraded when blue's schema or large objects
// changed since baseline, which replication does not carry.
func Watch(ctx context.Context, w Watcher, baseline engine.SchemaState) error {
	if err := w.Heartbeat(ctx); err != nil {
		w.Live(engine.ReplicationStatus{}, err)
		return nil
	}
	st, err := w.Replication(ctx)
	w.Live(st, err)
	schema, err := w.Schema(ctx)
	if err != nil {
		return nil // measured again at the next beat
	}
	if why := SchemaChange(baseline, schema); why != "" {
		if err := w.Degrade(why); err != nil {
			return fmt.Errorf("save the degraded deployment: %w", err)
		}
	}
	return nil
}

// SchemaChange says what changed on blue since the baseline that logical
// replication does not carry, or "" if nothing did.
func SchemaChange(base, now engine.SchemaState) string {
	var changes []string
	for db, fp := range now.Fingerprints {
		old, ok := base.Fingerprints[db]
		switch {
		case !ok:
			changes = append(changes, fmt.Sprintf("database %s was created on blue", db))
		case old != fp:
			changes = append(changes, fmt.Sprintf("DDL changed the schema of database %s on blue", db))
		}
	}
	for db, n := range now.LargeObjectWrites {
		if n > base.LargeObjectWrites[db] {
			changes = append(changes, fmt.Sprintf("large objects were written in database %s on blue", db))
		}
	}
	sort.Strings(changes)
	return strings.Join(changes, "; ")
}
