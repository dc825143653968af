package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// lease is how long a value may be used. A zero end means no end (KV).
type lease struct {
	id        string
	renewable bool
	duration  time.Duration
	end       time.Time
}

func newLease(id string, secs int, renewable bool, now time.Time) lease {
	l := lease{id: id, renewable: renewable, duration: time.Duration(secs) * time.Second}
	if secs > 0 && (id != "" || renewable) {
		l.end = now.Add(l.duration)
	}
	return l
}

// tokenLease is the lease of a login token: it always ends.
func tokenLease(secs int, renewable bool, now time.Time) lease {
	if secs <= 0 {
		return lease{}
	}
	d := time.Duration(secs) * time.Second
	return lease{renewable: renewable, duration: d, end: now.Add(d)}
}

// entry is one path read from Vault, with its lease.
type entry struct {
	op, path string

	mu        sync.Mutex
	data      map[string][]byte
	lease     lease
	refreshAt time.Time
	failing   bool
	dropped   bool // Retain forgot the path; a refresh in flight must not keep what it read
}

// field returns a field's value while the lease lasts.
func (e *entry) field(name string, now time.Time) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.lease.end.IsZero() && now.After(e.lease.end) {
		return nil, fmt.Errorf("vault: the lease of %s ended and Vault could not renew it", e.path)
	}
	v, ok := e.data[name]
	if !ok {
		return nil, fmt.Errorf("vault: %s has no field %q", e.path, name)
	}
	return v, nil
}

func (e *entry) leaseID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lease.id
}

// drop marks e forgotten and returns its lease ID, to revoke.
func (e *entry) drop() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropped = true
	return e.lease.id
}

// entry returns the cached read of path, reading it the first time.
func (c *Client) entry(ctx context.Context, op, path string) (*entry, error) {
	k := key(op, path)
	c.mu.Lock()
	e := c.entries[k]
	c.mu.Unlock()
	if e != nil {
		return e, nil
	}
	data, l, err := c.read(ctx, op, path)
	if err != nil {
		return nil, err
	}
	e = &entry{op: op, path: path, data: data, lease: l}
	e.refreshAt = c.nextRefresh(l)
	c.mu.Lock()
	if prev := c.entries[k]; prev != nil { // read concurrently
		c.mu.Unlock()
		return prev, nil
	}
	c.entries[k] = e
	c.mu.Unlock()
	c.remember(data)
	return e, nil
}

// nextRefresh is when a value is refreshed: two thirds into its lease or
// TTL, or every KVRefresh for values without one.
func (c *Client) nextRefresh(l lease) time.Time {
	now := c.cfg.Now()
	if l.duration <= 0 {
		return now.Add(c.cfg.KVRefresh)
	}
	return now.Add(l.duration * 2 / 3)
}

// read fetches path: a KV secret (v1 or v2, detected) or any read.
func (c *Client) read(ctx context.Context, op, path string) (map[string][]byte, lease, error) {
	readPath := path
	v2 := false
	if op == "kv" {
		m, err := c.mount(ctx, path)
		if err != nil {
			return nil, lease{}, err
		}
		if m.version == 2 {
			v2 = true
			readPath = m.path + "data/" + strings.TrimPrefix(path, m.path)
		}
	}
	s, err := c.api.Logical().ReadWithContext(ctx, readPath)
	if err != nil {
		return nil, lease{}, fmt.Errorf("vault at %s: read %s: %w", c.Address(), path, err)
	}
	if s == nil || s.Data == nil {
		return nil, lease{}, fmt.Errorf("vault at %s: no secret at %s", c.Address(), path)
	}
	fields := s.Data
	if v2 {
		inner, ok := s.Data["data"].(map[string]any)
		if !ok {
			return nil, lease{}, fmt.Errorf("vault at %s: %s is deleted or not a KV v2 secret", c.Address(), path)
		}
		fields = inner
	}
	data := make(map[string][]byte, len(fields))
	for k, v := range fields {
		switch v := v.(type) {
		case string:
			data[k] = []byte(v)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, lease{}, fmt.Errorf("vault: %s field %q: %w", path, k, err)
			}
			data[k] = b
		}
	}
	l := newLease(s.LeaseID, s.LeaseDuration, s.Renewable, c.cfg.Now())
	if op == "kv" {
		l.end = time.Time{} // KV values do not expire; lease_duration is a refresh hint
	}
	return data, l, nil
}

// mount is a KV mount: its path ("kv/") and version.
type mount struct {
	path    string
	version int
}

// mount detects the KV mount of path, as the vault CLI does.
func (c *Client) mount(ctx context.Context, path string) (mount, error) {
	c.mu.Lock()
	for p, m := range c.mounts {
		if strings.HasPrefix(path, p) {
			c.mu.Unlock()
			return m, nil
		}
	}
	c.mu.Unlock()
	s, err := c.api.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+path)
	if err != nil {
		return mount{}, fmt.Errorf("vault at %s: find the KV mount of %s: %w", c.Address(), path, err)
	}
	if s == nil || s.Data == nil {
		return mount{}, fmt.Errorf("vault at %s: %s is not under any mount", c.Address(), path)
	}
	m := mount{version: 1}
	m.path, _ = s.Data["path"].(string)
	if t, _ := s.Data["type"].(string); t != "kv" && t != "generic" {
		return mount{}, fmt.Errorf("vault at %s: %s is on a %q mount, not KV: use vault.read", c.Address(), path, t)
	}
	if opts, ok := s.Data["options"].(map[string]any); ok {
		if v, _ := opts["version"].(string); v == "2" {
			m.version = 2
		}
	}
	if m.path == "" || !strings.HasPrefix(path, m.path) {
		return mount{}, fmt.Errorf("vault at %s: unexpected mount %q for %s", c.Address(), m.path, path)
	}
	c.mu.Lock()
	c.mounts[m.path] = m
	c.mu.Unlock()
	return m, nil
}
