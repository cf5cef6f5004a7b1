package deployment

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tealdb/teal/internal/bluegreen"
)

// Remover is what deleting a deployment needs of the rest of teal. A
// deletion that teal stopped in runs again from the start at the next
// start, so every step is idempotent.
type Remover interface {
	// StopReplication removes the replication from blue to green.
	StopReplication(ctx context.Context) error
	// DeleteGreen deletes every green member, replicas first, and waits
	// until they are gone.
	DeleteGreen(ctx context.Context) error
	// KeepGreen leaves the green members as standalone instances; one
	// whose build was stopped says it was not finished.
	KeepGreen(ctx context.Context) error
	// Forget removes the deployment's record, with its event.
	Forget(ctx context.Context) error
}

// Deletion is what DeleteBlueGreenDeployment asked for, and what the
// engine does with replication when the target stays.
type Deletion struct {
	DeleteTarget bool
	// KeepsReplication: the engine leaves green following blue when the
	// target stays (MariaDB, as RDS does).
	KeepsReplication bool
}

// Delete deletes a deployment whose state as saved is st. Replication
// stops unless the switchover committed (it is gone already) or the
// engine keeps it for a green that stays; green goes with DeleteTarget
// and stays otherwise; the record goes last, so a deletion that fails
// before it is still DELETING and runs again at the next start.
func Delete(ctx context.Context, r Remover, st State, del Deletion, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	committed := st.Switchover != nil && bluegreen.Committed(st.Switchover.Phase)
	if !committed && !(del.KeepsReplication && !del.DeleteTarget) {
		if err := r.StopReplication(ctx); err != nil {
			// What is left (a slot, a publication) goes with the servers
			// when they are deleted; blue's keeps it only until then.
			log.Warn("remove blue/green replication", "err", err)
		}
	}
	if del.DeleteTarget {
		if err := r.DeleteGreen(ctx); err != nil {
			return fmt.Errorf("delete the green environment: %w", err)
		}
	} else if err := r.KeepGreen(ctx); err != nil {
		return fmt.Errorf("keep the green environment: %w", err)
	}
	if err := r.Forget(ctx); err != nil {
		return fmt.Errorf("remove the deployment: %w", err)
	}
	return nil
}
