package rds

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// A failover makes a reader of a cluster its writer without losing a
// commit the writer acknowledged:
//
//  1. The cluster endpoint holds new connections, and the writer's server
//     stops cleanly. Its sessions end; a clean stop writes a last
//     checkpoint after every commit, and sends the WAL up to it to the
//     readers before the server exits.
//  2. The reader must replay past that checkpoint (read from the stopped
//     server's control file). If it does not within replayWait, the old
//     writer starts again and stays the writer: nothing changed.
//  3. The new roles are saved in one transaction: the commit point. A
//     restart of teal before it finds the old writer, which starts again;
//     after it, the new writer, which starts as a primary whether or not
//     its promotion had run, and the other members, which copy its data
//     again.
//  4. The reader is promoted, the cluster endpoint routes to it and lets
//     the held connections through. The old writer and the other readers
//     are cloned again from the new writer, and rejoin the reader endpoint
//     when they follow it.

// The steps of a failover, as the switchover hook sees them.
const (
	FailoverStop    = "failover-stop"    // the writer is about to stop
	FailoverCommit  = "failover-commit"  // the new roles are about to be saved
	FailoverPromote = "failover-promote" // saved; the reader is about to be promoted
)

// failoverStep calls the switchover hook, if any, as a failover step starts.
func (s *Service) failoverStep(cluster, step string) {
	if h := s.hook(); h != nil {
		h(cluster, step)
	}
}

// replayWait bounds how long a failover waits for the reader to replay
// the writer's last commit.
const replayWait = time.Minute

// streamWait bounds the wait, before a failover stops the writer, for the
// reader to stream from it.
const streamWait = 30 * time.Second

// failoverHold bounds how long the cluster endpoint holds connections.
const failoverHold = 30 * time.Second

// FailoverDBCluster makes a reader the cluster's writer: target when given,
// otherwise the available reader that is least behind.
func (s *Service) FailoverDBCluster(ctx context.Context, id, target string) (*DBCluster, error) {
	if id == "" {
		return nil, missing("DBClusterIdentifier")
	}
	s.lock()
	defer s.unlock()
	c := s.findClusterLocked(id)
	if c == nil {
		return nil, clusterNotFound(id)
	}
	if err := c.available(); err != nil {
		return nil, err
	}
	w := s.instances[c.Writer]
	if w == nil || w.Status != StatusAvailable {
		return nil, invalidClusterState("DB cluster %s has no available writer to fail over from.", c.Identifier)
	}
	if err := s.clusterInDeploymentLocked(c, "a failover"); err != nil {
		return nil, err
	}
	var to *instanceRecord
	if target != "" {
		to = s.findLocked(target)
		if to == nil {
			return nil, instanceNotFound(target)
		}
		if to.ClusterResourceID != c.ResourceID {
			return nil, invalidValue("DB instance %s is not a member of DB cluster %s.", to.Identifier, c.Identifier)
		}
		if to.ResourceID == c.Writer {
			return nil, invalidValue("DB instance %s is already the writer of DB cluster %s.", to.Identifier, c.Identifier)
		}
		if to.Status != StatusAvailable {
			return nil, invalidInstanceState(to.Identifier, to.Status, StatusAvailable)
		}
	} else if len(s.readersLocked(c)) == 0 {
		return nil, invalidClusterState("DB cluster %s has no available reader to fail over to.", c.Identifier)
	}
	msg := "Started cluster failover to the reader least behind"
	toRID := ""
	if to != nil {
		msg, toRID = "Started cluster failover to DB instance: "+to.Identifier, to.ResourceID
	}
	if err := s.updateClusterLocked(c, func(next *clusterRecord) note {
		next.Status = StatusFailingOver
		return failure(msg)
	}); err != nil {
		return nil, err
	}
	crid, from := c.ResourceID, w.ResourceID
	s.goWork(func(ctx context.Context) { s.failover(ctx, crid, from, toRID) })
	return s.describeClusterLocked(c), nil
}

// readersLocked are a cluster's available readers.
func (s *Service) readersLocked(c *clusterRecord) []*instanceRecord {
	var out []*instanceRecord
	for _, m := range s.membersLocked(c.ResourceID) {
		if m.ResourceID != c.Writer && m.Status == StatusAvailable {
			out = append(out, m)
		}
	}
	return out
}

// leastBehind is the available reader of a cluster with the least WAL
// left to replay, as its writer measures it; the first one when none can
// be measured.
func (s *Service) leastBehind(ctx context.Context, crid string) string {
	type candidate struct {
		rid string
		e   engine.Engine
		l   engine.Layout
		rep *engine.Replication
	}
	var cands []candidate
	s.mu.Lock()
	if c := s.clusters[crid]; c != nil {
		for _, r := range s.readersLocked(c) {
			l, err := s.layout(r)
			if rep := s.replicationLocked(r); err == nil && rep != nil {
				cands = append(cands, candidate{r.ResourceID, s.engines[r.Engine], l, rep})
			}
		}
	}
	s.mu.Unlock()
	best, least := "", int64(-1)
	for _, c := range cands {
		lag, err := c.e.ReplicaLag(ctx, c.l, *c.rep)
		if err != nil {
			continue
		}
		if least < 0 || lag.Bytes < least {
			best, least = c.rid, lag.Bytes
		}
	}
	if best == "" && len(cands) > 0 {
		best = cands[0].rid
	}
	return best
}

func (s *Service) failover(ctx context.Context, crid, from, to string) {
	if to == "" {
		to = s.leastBehind(ctx, crid)
	}
	if err := s.awaitStreaming(ctx, to); err != nil {
		if ctx.Err() != nil {
			return // nothing was changed; the next start ends the failover
		}
		s.lock()
		if c := s.clusters[crid]; c != nil {
			s.endFailoverLocked(c, err)
		}
		s.unlock()
		return
	}
	s.lock()
	c, w, t := s.clusters[crid], s.instances[from], s.instances[to]
	if c == nil {
		s.unlock()
		return
	}
	if w == nil || t == nil || w.Status != StatusAvailable || t.Status != StatusAvailable {
		s.endFailoverLocked(c, errors.New("the writer or the reader to promote is gone or no longer available"))
		s.unlock()
		return
	}
	e := s.engines[w.Engine]
	ft, ok := e.(engine.FailoverTaker)
	wl, werr := s.layout(w)
	tl, terr := s.layout(t)
	if !ok || werr != nil || terr != nil {
		err := errors.Join(werr, terr)
		if !ok {
			err = fmt.Errorf("engine %s cannot fail over", w.Engine)
		}
		s.endFailoverLocked(c, fmt.Errorf("prepare: %w", err))
		s.unlock()
		return
	}
	writerEP := writerEndpointName(c.Identifier)
	var pauseErr error
	s.outsideLocked(func() { pauseErr = s.proxy.Pause(writerEP, failoverHold) })
	if pauseErr != nil {
		s.log.Warn("hold the cluster endpoint during failover", "cluster", c.Identifier, "err", pauseErr)
	}
	if err := s.setStatusLocked(w, StatusRebooting, note{}); err != nil {
		s.resumeEndpointLocked(writerEP)
		s.endFailoverLocked(c, err)
		s.unlock()
		return
	}
	s.unrouteLocked(w)
	name := c.Identifier
	s.unlock()

	s.failoverStep(name, FailoverStop)
	pos, err := s.stopWriter(ctx, e, ft, from, wl)
	if err == nil {
		err = awaitReplay(ctx, ft, tl, pos)
	}
	if err != nil {
		if ctx.Err() != nil {
			return // the next start brings the writer back (resumeClustersLocked)
		}
		// Nothing changed: the old writer starts again.
		startErr := s.sup.Start(ctx, from, e.Spec(wl))
		s.lock()
		defer s.unlock()
		if startErr != nil {
			s.settleStatusLocked(w, StatusFailed, failure("DB instance failed to start after a failed failover: "+engine.Explain(startErr)))
		} else {
			s.routeLocked(w, nil, availability("DB instance is the writer again after a failed failover"))
		}
		s.resumeEndpointLocked(writerEP)
		s.endFailoverLocked(c, err)
		return
	}

	// The commit point: the new roles, saved together.
	s.failoverStep(name, FailoverCommit)
	s.lock()
	if err := s.commitFailoverLocked(c, from, to); err != nil {
		// The store kept the old roles: the old writer starts again.
		s.unlock()
		startErr := s.sup.Start(ctx, from, e.Spec(wl))
		s.lock()
		defer s.unlock()
		if startErr == nil {
			s.routeLocked(w, nil, availability("DB instance is the writer again after a failed failover"))
		}
		s.resumeEndpointLocked(writerEP)
		s.endFailoverLocked(c, err)
		return
	}
	config := serverConfig(t, t.Applied)
	s.unlock()
	s.failoverStep(name, FailoverPromote)

	// Promote, then drop the replication settings: the server removes its
	// standby.signal itself as it leaves recovery.
	err = e.Promote(ctx, tl)
	if err == nil {
		if err = e.WriteConfig(tl, config, nil); err == nil {
			err = e.Reload(ctx, tl)
		}
	}
	s.lock()
	defer s.unlock()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		// The store names it the writer: a reboot starts it as one.
		s.settleStatusLocked(t, StatusFailed, failure("Promotion to cluster writer failed: "+engine.Explain(err)))
		s.resumeEndpointLocked(writerEP)
		s.endFailoverLocked(c, fmt.Errorf("promote %s: %w", t.Identifier, err))
		return
	}
	s.routeLocked(t, nil, availability("DB instance is the writer of DB cluster "+c.Identifier))
	s.resumeEndpointLocked(writerEP)
	if err := s.updateClusterLocked(c, func(next *clusterRecord) note {
		next.Status = StatusAvailable
		return failure("Completed failover to DB instance: " + t.Identifier)
	}); err != nil {
		s.log.Error("save DB cluster", "cluster", c.Identifier, "err", err)
	}
	for _, m := range s.membersLocked(crid) {
		if m.Reclone {
			rid := m.ResourceID
			s.goWork(func(ctx context.Context) { s.reclone(ctx, rid) })
		}
	}
}

// awaitStreaming waits, at most streamWait, until the reader to promote
// streams from the writer. A reader that is not connected when the writer
// stops (it was just restarted, or is retrying) would never receive the
// writer's last records, and the failover would stop the writer for
// nothing.
func (s *Service) awaitStreaming(ctx context.Context, rid string) error {
	s.lock()
	t := s.instances[rid]
	if t == nil {
		s.unlock()
		return nil // failover reports it
	}
	ft, ok := s.engines[t.Engine].(engine.FailoverTaker)
	l, err := s.layout(t)
	name := t.Identifier
	s.unlock()
	if !ok || err != nil {
		return nil // failover reports it
	}
	deadline := time.Now().Add(streamWait)
	for {
		streaming, err := ft.Receiving(ctx, l)
		if err == nil && streaming {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("it is not connected to the writer")
			}
			return fmt.Errorf("the reader %s does not stream from the writer (%w); the writer was left as it was", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopWriter stops the writer's server cleanly and reads the position of
// its last checkpoint.
func (s *Service) stopWriter(ctx context.Context, e engine.Engine, ft engine.FailoverTaker, rid string, l engine.Layout) (string, error) {
	if err := s.sup.Stop(ctx, rid); err != nil {
		return "", fmt.Errorf("stop the writer: %w", err)
	}
	return ft.FinalPosition(l)
}

// awaitReplay waits, at most replayWait, until the reader has replayed
// past pos.
func awaitReplay(ctx context.Context, ft engine.FailoverTaker, l engine.Layout, pos string) error {
	deadline := time.Now().Add(replayWait)
	var last error
	for time.Now().Before(deadline) {
		done, err := ft.Replayed(ctx, l, pos)
		if err == nil && done {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if last != nil {
		return fmt.Errorf("the reader did not replay the writer's last commit (%s) within %s: %w", pos, replayWait, last)
	}
	return fmt.Errorf("the reader did not replay the writer's last commit (%s) within %s", pos, replayWait)
}

// commitFailoverLocked saves the new roles in one transaction: to is the
// writer and follows nothing; every other member follows it, and copies
// its data again first.
func (s *Service) commitFailoverLocked(c *clusterRecord, from, to string) error {
	nextCluster := c.clone()
	nextCluster.Writer = to
	next := map[string]*instanceRecord{}
	for _, m := range s.membersLocked(c.ResourceID) {
		n := m.clone()
		if m.ResourceID == to {
			n.SourceResourceID = ""
		} else {
			n.SourceResourceID, n.Reclone = to, true
			if m.ResourceID != from && n.Status == StatusAvailable {
				n.Status = StatusRebooting
			}
		}
		next[m.ResourceID] = &n
	}
	if err := s.commitLocked(s.ctx, func(tx *store.Tx) error {
		if err := tx.Put(kindCluster, nextCluster.ResourceID, &nextCluster); err != nil {
			return err
		}
		for _, n := range next {
			if err := tx.Put(store.KindInstance, n.ResourceID, n); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("save the new writer: %w", err)
	}
	*c = nextCluster
	for rid, n := range next {
		r := s.instances[rid]
		wasRouted := r.Status == StatusAvailable
		*r = *n
		if wasRouted && r.Status != StatusAvailable {
			s.unrouteLocked(r)
		}
	}
	return nil
}

// reclone copies a cluster member's data again from the writer it now
// follows, and starts it as a reader.
func (s *Service) reclone(ctx context.Context, rid string) {
	s.mu.Lock()
	r := s.instances[rid]
	wanted := r != nil && r.Reclone
	s.mu.Unlock()
	if !wanted {
		return
	}
	params, err := s.cloneFromSource(ctx, rid)
	s.lock()
	defer s.unlock()
	if r = s.instances[rid]; r == nil {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.settleStatusLocked(r, StatusFailed, failure("DB instance could not rejoin its cluster as a reader: "+engine.Explain(err)))
		}
		return
	}
	if err := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.Reclone = false
		return note{}
	}); err != nil {
		s.log.Error("save DB instance", "instance", r.Identifier, "err", err)
		return
	}
	s.routeLocked(r, params, availability("DB instance is a reader of its DB cluster"))
}

// resumeEndpointLocked lets the connections an endpoint held through.
func (s *Service) resumeEndpointLocked(name string) {
	s.outsideLocked(func() { s.proxy.Resume(name) })
}

// endFailoverLocked makes a cluster available again after a failover that
// did not complete, with the reason as its event.
func (s *Service) endFailoverLocked(c *clusterRecord, cause error) {
	s.log.Error("DB cluster failover", "cluster", c.Identifier, "err", cause)
	if err := s.updateClusterLocked(c, func(next *clusterRecord) note {
		next.Status = StatusAvailable
		return failure("Cluster failover failed: " + engine.Explain(cause))
	}); err != nil {
		s.log.Error("save DB cluster", "cluster", c.Identifier, "err", err)
	}
}
