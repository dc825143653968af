package builtins

import (
	"context"
	"sync"
	"time"
)

// Hold bounds how long judges may keep one action waiting in all, beyond
// their own timeouts. A protocol sets it where waiting has a cost of its
// own: a Postgres statement inside an open transaction keeps the server's
// locks held while someone decides (postgres(max_hold_in_transaction)).
// When the bound is reached the judge's wait ends as a denial with Reason.
type Hold struct {
	Max    time.Duration // 0: no bound beyond the judges' own timeouts
	Reason string        // e.g. "held inside a transaction longer than max_hold_in_transaction (30s)"
	// Connection names the connection held (for the audit record), and
	// Before is how long judges held it before this action.
	Connection string
	Before     time.Duration

	mu   sync.Mutex
	used time.Duration
}

type holdKey struct{}

// WithHold returns ctx carrying h; hooks called with it bound their
// judges' waits by h.
func WithHold(ctx context.Context, h *Hold) context.Context {
	return context.WithValue(ctx, holdKey{}, h)
}

// HoldOf returns the hold ctx carries, or nil.
func HoldOf(ctx context.Context) *Hold {
	h, _ := ctx.Value(holdKey{}).(*Hold)
	return h
}

// Used is how long judges have kept the action waiting so far.
func (h *Hold) Used() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.used
}

func (h *Hold) remaining() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.Max <= 0 {
		return time.Duration(1<<63 - 1)
	}
	return h.Max - h.used
}

func (h *Hold) add(d time.Duration) {
	h.mu.Lock()
	h.used += d
	h.mu.Unlock()
}
