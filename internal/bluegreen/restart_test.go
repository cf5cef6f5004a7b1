package bluegreen

import "testing"

// TestResumeOf: every status a deployment can be stored in, and every
// switchover phase, map to one decision at start; only the commit point
// splits rolling back from rolling forward.
func TestResumeOf(t *testing.T) {
	for _, c := range []struct {
		status, phase string
		want          Resume
	}{
		{StatusProvisioning, "", ResumeProvision},
		{StatusAvailable, "", ResumeNothing},
		{StatusInvalidConfiguration, "", ResumeNothing},
		{StatusSwitchoverCompleted, PhaseDone, ResumeNothing},
		{StatusSwitchoverFailed, PhaseStopWrites, ResumeNothing},
		{StatusDeleting, "", ResumeFinishDelete},
		{StatusDeleting, PhaseCommitted, ResumeFinishDelete},
		{StatusSwitchoverInProgress, "", ResumeRollBack},
		{StatusSwitchoverInProgress, PhaseGuardrails, ResumeRollBack},
		{StatusSwitchoverInProgress, PhaseHold, ResumeRollBack},
		{StatusSwitchoverInProgress, PhaseStopWrites, ResumeRollBack},
		{StatusSwitchoverInProgress, PhaseCatchUp, ResumeRollBack},
		{StatusSwitchoverInProgress, PhaseSequences, ResumeRollBack},
		{StatusSwitchoverInProgress, PhaseCommitted, ResumeRollForward},
		{StatusSwitchoverInProgress, PhaseRelease, ResumeRollForward},
		{StatusSwitchoverInProgress, PhaseDone, ResumeRollForward},
	} {
		if got := ResumeOf(c.status, c.phase); got != c.want {
			t.Errorf("%s at %q: %v, want %v", c.status, c.phase, got, c.want)
		}
	}
	// Every phase is covered by the table above.
	for _, p := range Phases {
		if got := ResumeOf(StatusSwitchoverInProgress, p); got != ResumeRollBack && got != ResumeRollForward {
			t.Errorf("phase %s: %v", p, got)
		}
	}
}
