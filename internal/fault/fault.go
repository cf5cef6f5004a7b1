// Package fault is the error an API returns to its caller: the code and
// HTTP status of the AWS service model, and a message saying what was
// wrong. The RDS API (package rds) and request authentication (package
// auth) both refuse with it; the API layer writes it as AWS's error body.
package fault

import (
	"errors"
	"fmt"
)

// Fault is a refusal. Any other error an operation returns is an internal
// failure.
type Fault struct {
	Code    string
	Status  int
	Message string
}

func (f *Fault) Error() string { return f.Code + ": " + f.Message }

// Is makes errors.Is match faults by code, so callers can test against
// sentinel values.
func (f *Fault) Is(target error) bool {
	var t *Fault
	return errors.As(target, &t) && t.Code == f.Code
}

// New makes a fault with a formatted message.
func New(code string, status int, format string, args ...any) *Fault {
	return &Fault{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}
