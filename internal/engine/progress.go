package engine

import (
	"fmt"
	"strings"
	"time"
)

// CopyProgress is how far the copy of blue into a new green has come.
type CopyProgress struct {
	Phase             string // what is under way, e.g. "copying data"
	Done, Total       int    // items of the phase (tables, indexes) finished and in all; Total 0 if not counted
	Item              string // what the counted items are, e.g. "tables"
	Bytes, BytesTotal int64  // data copied, and the estimate of all of it (0: none)
	Elapsed           time.Duration
}

// Fraction is the share of the phase done, from bytes when they are
// estimated and from items otherwise, or -1 when nothing is counted.
func (p CopyProgress) Fraction() float64 {
	switch {
	case p.BytesTotal > 0:
		return min(1, float64(p.Bytes)/float64(p.BytesTotal))
	case p.Total > 0:
		return float64(p.Done) / float64(p.Total)
	}
	return -1
}

// String is the progress in one line, as StatusDetails shows it: the phase,
// items, bytes with the share done, the rate and the time left.
func (p CopyProgress) String() string {
	parts := []string{p.Phase}
	if p.Total > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d %s", p.Done, p.Total, p.Item))
	}
	if p.BytesTotal > 0 || p.Bytes > 0 {
		b := FormatBytes(p.Bytes)
		if p.BytesTotal > 0 {
			b += " of about " + FormatBytes(max(p.BytesTotal, p.Bytes))
		}
		parts = append(parts, b)
	}
	if f := p.Fraction(); f >= 0 {
		parts = append(parts, fmt.Sprintf("%d%%", int(f*100)))
	}
	if p.Bytes > 0 && p.Elapsed >= time.Second {
		rate := float64(p.Bytes) / p.Elapsed.Seconds()
		parts = append(parts, FormatBytes(int64(rate))+"/s")
		if p.BytesTotal > p.Bytes && rate > 0 {
			left := time.Duration(float64(p.BytesTotal-p.Bytes) / rate * float64(time.Second))
			parts = append(parts, "about "+left.Round(time.Second).String()+" left")
		}
	}
	return strings.Join(parts, ", ")
}

// FormatBytes writes a size in bytes the way people read it: 1.5 MiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n), ""
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		suffix = s
		if v < unit {
			break
		}
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, suffix)
	}
	return fmt.Sprintf("%.0f %s", v, suffix)
}
