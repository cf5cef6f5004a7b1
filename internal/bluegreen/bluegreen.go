// Package bluegreen holds the decisions of blue/green deployments that do
// not touch a server: identifiers and names, statuses and tasks, preflight
// findings, switchover guardrails and phases. Each is a pure function with
// table-driven tests; internal/rds carries them out on real servers.
package bluegreen

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Deployment statuses, as RDS names them.
const (
	StatusProvisioning         = "PROVISIONING"
	StatusAvailable            = "AVAILABLE"
	StatusSwitchoverInProgress = "SWITCHOVER_IN_PROGRESS"
	StatusSwitchoverCompleted  = "SWITCHOVER_COMPLETED"
	StatusInvalidConfiguration = "INVALID_CONFIGURATION"
	StatusSwitchoverFailed     = "SWITCHOVER_FAILED"
	StatusDeleting             = "DELETING"
)

// Member (SwitchoverDetails) statuses.
const (
	MemberProvisioning = "PROVISIONING"
	MemberAvailable    = "AVAILABLE"
	MemberInProgress   = "SWITCHOVER_IN_PROGRESS"
	MemberCompleted    = "SWITCHOVER_COMPLETED"
	MemberFailed       = "SWITCHOVER_FAILED"
	MemberMissingSrc   = "MISSING_SOURCE"
	MemberMissingTgt   = "MISSING_TARGET"
)

// Task names and statuses.
const (
	TaskCreateReplica   = "CREATING_READ_REPLICA_OF_SOURCE"
	TaskUpgrade         = "DB_ENGINE_VERSION_UPGRADE"
	TaskCreateTopology  = "CREATING_TOPOLOGY_OF_SOURCE"
	TaskConfigureBackup = "CONFIGURE_BACKUPS"

	TaskPending    = "PENDING"
	TaskInProgress = "IN_PROGRESS"
	TaskCompleted  = "COMPLETED"
	TaskFailed     = "FAILED"
)

// Task is one step of creating the green environment.
type Task struct {
	Name   string
	Status string
}

// Tasks lists the tasks of a new deployment: the upgrade task only when the
// engine version changes, the topology task only when blue has replicas.
func Tasks(upgrade, hasReplicas bool) []Task {
	out := []Task{{TaskCreateReplica, TaskPending}}
	if upgrade {
		out = append(out, Task{TaskUpgrade, TaskPending})
	}
	if hasReplicas {
		out = append(out, Task{TaskCreateTopology, TaskPending})
	}
	return append(out, Task{TaskConfigureBackup, TaskPending})
}

// SetTask sets the status of a task, if the deployment has it.
func SetTask(tasks []Task, name, status string) {
	for i := range tasks {
		if tasks[i].Name == name {
			tasks[i].Status = status
		}
	}
}

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomSuffix(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// NewIdentifier makes a deployment identifier: "bgd-" and 16 of [a-z0-9].
func NewIdentifier() string { return "bgd-" + randomSuffix(16) }

// NewSuffix makes the green suffix shared by a deployment's members.
func NewSuffix() string { return randomSuffix(6) }

// GreenName is the green twin of a blue instance name. Identifiers are at
// most 63 characters, so a long blue name is shortened first.
func GreenName(blue, suffix string) string {
	tail := "-green-" + suffix
	if len(blue)+len(tail) > 63 {
		blue = strings.TrimRight(blue[:63-len(tail)], "-")
	}
	return blue + tail
}

// OldName is the name blue takes at switchover: NAME-oldN with the first N
// that is free.
func OldName(blue string, taken func(string) bool) string {
	for n := 1; ; n++ {
		suffix := "-old" + strconv.Itoa(n)
		base := blue
		if len(base)+len(suffix) > 63 {
			base = strings.TrimRight(base[:63-len(suffix)], "-")
		}
		if name := base + suffix; !taken(name) {
			return name
		}
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// ValidName checks a BlueGreenDeploymentName: 1 to 60 letters, digits or
// hyphens, beginning with a letter, no "--", no trailing hyphen.
func ValidName(name string) error {
	if name == "" || len(name) > 60 || !nameRE.MatchString(name) || strings.Contains(name, "--") || strings.HasSuffix(name, "-") {
		return fmt.Errorf("the parameter BlueGreenDeploymentName is not valid: it must be 1 to 60 letters, digits or hyphens, " +
			"begin with a letter, and must not end with a hyphen or contain two consecutive hyphens")
	}
	return nil
}

// ValidTimeout checks a SwitchoverTimeout in seconds.
func ValidTimeout(seconds int) error {
	if seconds < 30 || seconds > 3600 {
		return fmt.Errorf("SwitchoverTimeout must be from 30 to 3600 seconds, not %d", seconds)
	}
	return nil
}
