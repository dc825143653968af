package vault

import (
	"context"
	"maps"
	"time"
)

// refreshTimeout bounds one refresh.
const refreshTimeout = 15 * time.Second

// run refreshes values and renews leases until Close.
func (c *Client) run() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.renewToken()
		c.mu.Lock()
		due := make([]*entry, 0, len(c.entries))
		now := c.cfg.Now()
		for _, e := range c.entries {
			e.mu.Lock()
			if !now.Before(e.refreshAt) {
				due = append(due, e)
			}
			e.mu.Unlock()
		}
		c.mu.Unlock()
		for _, e := range due {
			c.refresh(e)
		}
	}
}

// refresh renews e's lease, or reads its path again.
func (c *Client) refresh(e *entry) {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	e.mu.Lock()
	l := e.lease
	e.mu.Unlock()
	if l.id != "" && l.renewable && (l.end.IsZero() || c.cfg.Now().Before(l.end)) {
		s, err := c.api.Sys().RenewWithContext(ctx, l.id, int(l.duration.Seconds()))
		if err == nil && s != nil && s.LeaseDuration > 0 {
			renewed := newLease(l.id, s.LeaseDuration, s.Renewable, c.cfg.Now())
			// A renewal capped short of the lease's duration means its max
			// TTL is near: read again for a fresh lease below.
			// A renewal that lands after the lease ended does not bring the
			// old credentials back either.
			if renewed.duration >= l.duration/2 && c.cfg.Now().Before(l.end) {
				c.settle(ctx, e, nil, renewed)
				return
			}
		} else if err != nil {
			c.failed(e, l, err)
			return
		}
	}
	data, fresh, err := c.read(ctx, e.op, e.path)
	if err != nil {
		c.failed(e, l, err)
		return
	}
	if !c.settle(ctx, e, data, fresh) {
		return
	}
	if l.id != "" && fresh.id != l.id {
		// The old credentials may still be in use; they end with their
		// lease, or are revoked when the gateway stops.
		c.mu.Lock()
		c.retired = append(c.retired, l)
		c.mu.Unlock()
	}
}

// settle stores a successful refresh. It reports false when Retain
// dropped the path meanwhile: a fresh lease is then revoked, not kept.
func (c *Client) settle(ctx context.Context, e *entry, data map[string][]byte, l lease) bool {
	e.mu.Lock()
	if e.dropped {
		e.mu.Unlock()
		if data != nil {
			_ = c.revokeID(ctx, e.path, l.id)
		}
		return false
	}
	changed := data != nil && !maps.EqualFunc(e.data, data, func(a, b []byte) bool { return string(a) == string(b) })
	if data != nil {
		e.data = data
	}
	e.lease = l
	e.refreshAt = c.nextRefresh(l)
	if e.failing {
		c.cfg.Logger.Info("vault: refreshed again", "path", e.path)
	}
	e.failing = false
	e.mu.Unlock()
	if changed {
		c.remember(data)
		if c.cfg.OnChange != nil {
			c.cfg.OnChange()
		}
	}
	return true
}

// failed keeps the last good value until its lease ends, and retries.
func (c *Client) failed(e *entry, l lease, err error) {
	now := c.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.failing {
		if l.end.IsZero() {
			c.cfg.Logger.Warn("vault: refresh failed; keeping the last value", "path", e.path, "error", err)
		} else {
			c.cfg.Logger.Warn("vault: refresh failed; keeping the last value until its lease ends", "path", e.path,
				"lease_ends", l.end, "error", err)
		}
	}
	e.failing = true
	retry := 5 * c.cfg.Tick
	if !l.end.IsZero() {
		retry = min(retry, max(c.cfg.Tick, l.end.Sub(now)/4))
	}
	e.refreshAt = now.Add(retry)
}

// renewToken keeps an AppRole login alive, logging in again when the
// token cannot be renewed.
func (c *Client) renewToken() {
	c.mu.Lock()
	tok := c.token
	c.mu.Unlock()
	if tok.end.IsZero() || c.cfg.Now().Before(tok.end.Add(-tok.duration/3)) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	if tok.renewable {
		s, err := c.api.Auth().Token().RenewSelfWithContext(ctx, int(tok.duration.Seconds()))
		if err == nil && s != nil && s.Auth != nil && s.Auth.LeaseDuration > 0 {
			c.mu.Lock()
			c.token = tokenLease(s.Auth.LeaseDuration, s.Auth.Renewable, c.cfg.Now())
			c.mu.Unlock()
			return
		}
	}
	if err := c.login(ctx); err != nil {
		c.cfg.Logger.Warn("vault: cannot renew the login token or log in again", "error", err)
	}
}
