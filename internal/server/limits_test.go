package server

import (
	"math"
	"syscall"
	"testing"
)

func TestDeriveLimits(t *testing.T) {
	for _, tc := range []struct {
		openFiles uint64
		want      Limits
	}{
		// This machine's hard limit: the finding's 21,000 idle connections
		// meet 8238 proxied at most, 2059 on one endpoint.
		{20000, Limits{API: 1024, Proxied: 8238, PerEndpoint: 2059}},
		{1024, Limits{API: 64, Proxied: 416, PerEndpoint: 104}},
		{256, Limits{API: 16, Proxied: 88, PerEndpoint: 22}},
		// Too few descriptors to share: one connection each, still capped.
		{64, Limits{API: 16, Proxied: 1, PerEndpoint: 1}},
		{1 << 20, Limits{API: 1024, Proxied: 16384, PerEndpoint: 4096}},
		{math.MaxUint64, Limits{API: 1024, Proxied: 16384, PerEndpoint: 4096}},
	} {
		got := DeriveLimits(tc.openFiles)
		if got != tc.want {
			t.Errorf("DeriveLimits(%d) = %+v, want %+v", tc.openFiles, got, tc.want)
		}
		// What the caps let connections take leaves the reserve free.
		if tc.openFiles >= 1024 && got.descriptors()+minReserve > tc.openFiles {
			t.Errorf("DeriveLimits(%d) lets connections take %d descriptors, leaving less than %d", tc.openFiles, got.descriptors(), minReserve)
		}
	}
}

func TestLimitsFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want Limits
	}{
		{"derived", Config{}, Limits{API: 1024, Proxied: 8238, PerEndpoint: 2059}},
		{"api", Config{MaxAPIConns: 10}, Limits{API: 10, Proxied: 8238, PerEndpoint: 2059}},
		{"total, per endpoint follows", Config{MaxProxiedConns: 100}, Limits{API: 1024, Proxied: 100, PerEndpoint: 25}},
		{"per endpoint", Config{MaxEndpointConns: 7}, Limits{API: 1024, Proxied: 8238, PerEndpoint: 7}},
		{"per endpoint above total", Config{MaxProxiedConns: 100, MaxEndpointConns: 500}, Limits{API: 1024, Proxied: 100, PerEndpoint: 100}},
	} {
		got, err := limitsFor(20000, tc.cfg)
		if err != nil || got != tc.want {
			t.Errorf("%s: limitsFor = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, err := limitsFor(20000, Config{MaxProxiedConns: -1}); err == nil {
		t.Error("a negative cap was accepted")
	}
}

// TestRaiseOpenFileLimit: a low soft limit is raised to the hard limit.
func TestRaiseOpenFileLimit(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
			t.Errorf("restore the open file limit: %v", err)
		}
	})
	if orig.Max < 512 {
		t.Skipf("hard limit %d: too low to lower the soft one", orig.Max)
	}
	low := orig
	low.Cur = orig.Max / 2
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}

	soft, hard, err := RaiseOpenFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	var now syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
		t.Fatal(err)
	}
	if now.Cur != orig.Max || soft != now.Cur || hard != now.Max {
		t.Fatalf("after RaiseOpenFileLimit the limit is %d/%d (reported %d/%d), want the hard limit %d", now.Cur, now.Max, soft, hard, orig.Max)
	}
}
