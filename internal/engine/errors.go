package engine

import (
	"context"
	"errors"
	"sync"
)

// Kind is what an error of a database server means to teal, whatever the
// engine: each engine reads its own codes (PostgreSQL's SQLSTATEs,
// MariaDB's error numbers) into one.
type Kind int

const (
	KindUnknown     Kind = iota
	KindUnavailable      // not reachable, starting up or shutting down
	KindDenied           // refused by a privilege or an authentication rule
	KindInvalid          // not valid for this server: syntax, an unknown object or setting, bad data
	KindConflict         // a lock, a serialization failure, an object in use: it may work when tried again
	KindResources        // out of disk, memory or connections
	KindReadOnly         // a read-only server or transaction
	KindCanceled         // teal stopped it
)

// String says what happened, in teal's words.
func (k Kind) String() string {
	switch k {
	case KindUnavailable:
		return "a database server could not be reached"
	case KindDenied:
		return "a database server refused teal's access"
	case KindInvalid:
		return "a database server refused a statement"
	case KindConflict:
		return "a lock or a conflicting change stopped it; it may work when tried again"
	case KindResources:
		return "a database server ran out of disk, memory or connections"
	case KindReadOnly:
		return "a database server is read-only"
	case KindCanceled:
		return "teal stopped it"
	}
	return "an error"
}

var classifiers struct {
	sync.Mutex
	list []func(error) Kind
}

// RegisterKinds adds how an engine reads its errors; each engine package
// registers its own when it is loaded.
func RegisterKinds(classify func(error) Kind) {
	classifiers.Lock()
	defer classifiers.Unlock()
	classifiers.list = append(classifiers.list, classify)
}

// KindOf is the kind of err, as the first engine that knows it says.
func KindOf(err error) Kind {
	if err == nil {
		return KindUnknown
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return KindCanceled
	}
	classifiers.Lock()
	list := append([]func(error) Kind(nil), classifiers.list...)
	classifiers.Unlock()
	for _, classify := range list {
		if k := classify(err); k != KindUnknown {
			return k
		}
	}
	return KindUnknown
}

// Explain puts what an error means before what it says: "a database
// server refused a statement: apply to app: ERROR: ...". An error of no
// known kind is as it is.
func Explain(err error) string {
	if k := KindOf(err); k != KindUnknown {
		return k.String() + ": " + err.Error()
	}
	return err.Error()
}
