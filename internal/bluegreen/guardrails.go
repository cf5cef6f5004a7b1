package bluegreen

import (
	"fmt"
	"time"
)

// Health is what teal measured of a deployment just before a switchover.
type Health struct {
	ReplicationHealthy bool    // every subscription streams and every table is copied
	ReplicationError   string  // why not, when not
	LagSeconds         float64 // heartbeat lag
	LagBytes           int64
	Degraded           string // DDL or large-object changes on blue, or "" if none
	MissingMember      string // a deleted member, or ""

	GreenActiveWrites   int           // client transactions writing on green
	BlueExternalSource  bool          // blue replicates from elsewhere
	BlueLongestWrite    time.Duration // oldest open write transaction on blue
	BlueLongestDDL      time.Duration // oldest running DDL on blue
	BlueLongestWriteWho string
}

// Limits bound what a switchover can absorb.
type Limits struct {
	Timeout      time.Duration
	LongWrite    time.Duration // a write transaction older than this blocks
	LongDDL      time.Duration
	LagPerByte   time.Duration // estimated apply time per byte of lag
	LagShareOfTO float64       // share of the timeout catch-up may use
}

// DefaultLimits derives the guardrail limits from the switchover timeout.
func DefaultLimits(timeout time.Duration) Limits {
	return Limits{Timeout: timeout, LongWrite: 60 * time.Second, LongDDL: 10 * time.Second,
		LagPerByte: 20 * time.Nanosecond, LagShareOfTO: 0.5}
}

// Guardrails returns the reasons a switchover must not start, in the order
// RDS checks them: green first, then blue. None means go.
func Guardrails(h Health, l Limits) []string {
	var out []string
	if h.MissingMember != "" {
		out = append(out, h.MissingMember)
	}
	if h.Degraded != "" {
		out = append(out, "replication is degraded: "+h.Degraded)
	}
	if !h.ReplicationHealthy {
		why := h.ReplicationError
		if why == "" {
			why = "green is not replicating"
		}
		out = append(out, "replication is not healthy: "+why)
	}
	budget := time.Duration(float64(l.Timeout) * l.LagShareOfTO)
	lag := time.Duration(h.LagSeconds*float64(time.Second)) + time.Duration(h.LagBytes)*l.LagPerByte
	if lag > budget {
		out = append(out, fmt.Sprintf("replica lag (%.1f s, %d bytes) is more than the switchover timeout of %s allows", h.LagSeconds, h.LagBytes, l.Timeout))
	}
	if h.GreenActiveWrites > 0 {
		out = append(out, fmt.Sprintf("green has %d active write transactions", h.GreenActiveWrites))
	}
	if h.BlueExternalSource {
		out = append(out, "blue is the target of external replication")
	}
	if h.BlueLongestWrite > l.LongWrite {
		out = append(out, fmt.Sprintf("blue has a write transaction running for %s (%s)", h.BlueLongestWrite.Round(time.Second), h.BlueLongestWriteWho))
	}
	if h.BlueLongestDDL > l.LongDDL {
		out = append(out, fmt.Sprintf("blue has a DDL statement running for %s", h.BlueLongestDDL.Round(time.Second)))
	}
	return out
}

// Switchover phases, in order. Each is persisted before it starts, so that
// after a crash of teal the switchover resumes from where it was: phases
// before PhaseCommitted roll back, later ones roll forward.
const (
	PhaseGuardrails = "guardrails"
	PhaseHold       = "hold-connections" // endpoints hold new connections
	PhaseStopWrites = "stop-writes"      // blue read-only, sessions ended
	PhaseCatchUp    = "catch-up"         // green has applied everything blue committed
	PhaseSequences  = "sync-sequences"   // green sequences at least blue's
	PhaseCommitted  = "committed"        // names, endpoints and tags moved in one transaction
	PhaseRelease    = "release"          // replication dropped, green writable, connections released
	PhaseDone       = "done"
	PhaseRolledBack = "rolled-back"
)

// Phases is the order of a switchover.
var Phases = []string{PhaseGuardrails, PhaseHold, PhaseStopWrites, PhaseCatchUp, PhaseSequences, PhaseCommitted, PhaseRelease, PhaseDone}

// Committed reports whether a switchover that reached phase must roll
// forward: only the commit point decides.
func Committed(phase string) bool {
	committed := false
	for _, p := range Phases {
		committed = committed || p == PhaseCommitted
		if p == phase {
			return committed
		}
	}
	return false
}
