package bluegreen

// A Resume is what teal does, when it starts, with a deployment it finds
// in the store.
type Resume int

const (
	ResumeNothing      Resume = iota // at rest: AVAILABLE, completed, failed
	ResumeProvision                  // build green again from the start
	ResumeRollBack                   // a switchover before its commit point
	ResumeRollForward                // a switchover at or after its commit point
	ResumeFinishDelete               // a deletion under way
)

func (r Resume) String() string {
	switch r {
	case ResumeProvision:
		return "provision again"
	case ResumeRollBack:
		return "roll the switchover back"
	case ResumeRollForward:
		return "roll the switchover forward"
	case ResumeFinishDelete:
		return "finish the deletion"
	}
	return "nothing"
}

// ResumeOf decides what to do with a deployment of status whose switchover
// (if any) last recorded phase. A switchover with no phase recorded has
// not reached its commit point.
func ResumeOf(status, phase string) Resume {
	switch status {
	case StatusProvisioning:
		return ResumeProvision
	case StatusSwitchoverInProgress:
		if phase != "" && Committed(phase) {
			return ResumeRollForward
		}
		return ResumeRollBack
	case StatusDeleting:
		return ResumeFinishDelete
	}
	return ResumeNothing
}
