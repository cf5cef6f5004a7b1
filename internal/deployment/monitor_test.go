package deployment

import (
	"context"
	"errors"
	"testing"

	"github.com/tealdb/teal/internal/engine"
)

type fakeWatcher struct {
	beatErr, replErr, schemaErr, degradeErr error
	schema                                  engine.SchemaState
	live                                    []error
	degraded                                []string
}

func (f *fakeWatcher) Heartbeat(context.Context) error { return f.beatErr }
func (f *fakeWatcher) Replication(context.Context) (engine.ReplicationStatus, error) {
	return engine.ReplicationStatus{Streaming: f.replErr == nil}, f.replErr
}
func (f *fakeWatcher) Schema(context.Context) (engine.SchemaState, error) {
	return f.schema, f.schemaErr
}
func (f *fakeWatcher) Live(_ engine.ReplicationStatus, err error) { f.live = append(f.live, err) }
func (f *fakeWatcher) Degrade(why string) error {
	f.degraded = append(f.degraded, why)
	return f.degradeErr
}

// TestWatch: a measurement publishes the lag (or why it could not be
// measured), and a change of blue's schema or large objects since the
// baseline degrades the deployment, saying what changed.
func TestWatch(t *testing.T) {
	base := engine.SchemaState{Fingerprints: map[string]string{"app": "a1", "shop": "b1"}, LargeObjectWrites: map[string]int64{"app": 2}}
	for _, c := range []struct {
		name     string
		f        fakeWatcher
		degraded string
		live     int
		err      bool
	}{
		{"unchanged", fakeWatcher{schema: base}, "", 1, false},
		{"DDL", fakeWatcher{schema: engine.SchemaState{Fingerprints: map[string]string{"app": "a2", "shop": "b1"}}},
			"DDL changed the schema of database app on blue", 1, false},
		{"new database and large objects", fakeWatcher{schema: engine.SchemaState{
			Fingerprints: map[string]string{"app": "a1", "shop": "b1", "new": "c1"}, LargeObjectWrites: map[string]int64{"app": 3}}},
			"database new was created on blue; large objects were written in database app on blue", 1, false},
		{"blue down", fakeWatcher{beatErr: errInjected}, "", 1, false},
		{"schema unreadable", fakeWatcher{schemaErr: errInjected}, "", 1, false},
		{"degraded not saved", fakeWatcher{schema: engine.SchemaState{Fingerprints: map[string]string{"app": "zz", "shop": "b1"}},
			degradeErr: errInjected}, "DDL changed the schema of database app on blue", 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Watch(context.Background(), &c.f, base)
			if (err != nil) != c.err || (err != nil && !errors.Is(err, errInjected)) {
				t.Errorf("err %v", err)
			}
			got := ""
			if len(c.f.degraded) > 0 {
				got = c.f.degraded[0]
			}
			if got != c.degraded || len(c.f.degraded) > 1 {
				t.Errorf("degraded %q, want %q", c.f.degraded, c.degraded)
			}
			if len(c.f.live) != c.live {
				t.Errorf("published %d measurements", len(c.f.live))
			}
		})
	}
}
