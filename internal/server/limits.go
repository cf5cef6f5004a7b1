package server

import (
	"fmt"
	"syscall"
)

// RaiseOpenFileLimit raises the soft limit on open files to the hard limit
// and returns both. A flood of connections must meet teal's own caps (Limits)
// long before the kernel's limit.
//
// The Go runtime already raises the soft limit to one below the hard limit at
// start, and then starts child processes with the original soft limit; teal
// keeps it that way, so that the database servers start with the system's
// usual limit rather than a hard limit that can be huge (some servers size
// their tables by it). Only when the soft limit is lower than that does teal
// set it itself.
func RaiseOpenFileLimit() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("read the open file limit: %w", err)
	}
	if lim.Cur+1 >= lim.Max {
		return lim.Cur, lim.Max, nil
	}
	want := lim
	want.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return lim.Cur, lim.Max, fmt.Errorf("raise the open file limit from %d to %d: %w", lim.Cur, lim.Max, err)
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return want.Cur, want.Max, fmt.Errorf("read the open file limit: %w", err)
	}
	return lim.Cur, lim.Max, nil
}

// Limits are the connection caps that keep teal within its open-file limit:
// whatever floods its listeners, descriptors remain for the API, the
// supervisor, the store and the database servers' admin connections.
type Limits struct {
	// API caps the connections the API serves at once.
	API int
	// Proxied caps the connections all endpoint listeners hold together;
	// each costs two descriptors (client and server).
	Proxied int
	// PerEndpoint caps the connections one endpoint listener holds, so that
	// a flood on one endpoint leaves room for the others.
	PerEndpoint int
}

// Bounds of the derivation. Above maxProxied, connections cost more memory
// (two goroutines and, for PostgreSQL sessions, two buffers each) than the
// descriptors are worth guarding.
const (
	minAPI, maxAPI         = 16, 1024
	minReserve, maxReserve = 64, 4096
	maxProxied             = 16384
	// endpointShare: one endpoint may take a quarter of the proxied
	// connections, so it takes floods on four endpoints to fill them.
	endpointShare = 4
)

// DeriveLimits divides an open-file limit: a sixteenth for the API (16 to
// 1024 connections), an eighth kept in reserve for the rest of teal (64 to
// 4096 descriptors), and what is left for proxied connections at two
// descriptors each (at most 16384), of which one endpoint may hold a quarter.
// A limit of 20000 gives 1024 API, 8238 proxied and 2059 per endpoint.
func DeriveLimits(openFiles uint64) Limits {
	n := int(min(openFiles, 1<<24))
	api := clamp(n/16, minAPI, maxAPI)
	reserve := clamp(n/8, minReserve, maxReserve)
	proxied := clamp((n-api-reserve)/2, 1, maxProxied)
	return Limits{API: api, Proxied: proxied, PerEndpoint: max(1, proxied/endpointShare)}
}

// limitsFor derives the limits from the open-file limit and applies the
// caps the operator set (non-zero in cfg). A per-endpoint cap the operator
// did not set follows a total the operator did.
func limitsFor(openFiles uint64, cfg Config) (Limits, error) {
	for _, f := range []struct {
		flag string
		v    int
	}{{"max-api-conns", cfg.MaxAPIConns}, {"max-proxied-conns", cfg.MaxProxiedConns}, {"max-endpoint-conns", cfg.MaxEndpointConns}} {
		if f.v < 0 {
			return Limits{}, fmt.Errorf("--%s %d: want 0 (derived from the open-file limit) or more", f.flag, f.v)
		}
	}
	l := DeriveLimits(openFiles)
	if cfg.MaxAPIConns > 0 {
		l.API = cfg.MaxAPIConns
	}
	if cfg.MaxProxiedConns > 0 {
		l.Proxied = cfg.MaxProxiedConns
		l.PerEndpoint = max(1, l.Proxied/endpointShare)
	}
	if cfg.MaxEndpointConns > 0 {
		l.PerEndpoint = cfg.MaxEndpointConns
	}
	l.PerEndpoint = min(l.PerEndpoint, l.Proxied)
	return l, nil
}

// descriptors is how many file descriptors the limits let connections take.
func (l Limits) descriptors() uint64 {
	return uint64(l.API) + 2*uint64(l.Proxied)
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
