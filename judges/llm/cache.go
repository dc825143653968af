package llm

import (
	"sync"
	"time"
)

// maxCached bounds the cache of one judge.
const maxCached = 4096

// cache keeps decisions for identical questions for a while.
type cache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[string]cached
}

type cached struct {
	allow   bool
	reason  string
	expires time.Time
}

func (c *cache) get(key string, now time.Time) (cached, bool) {
	if c.ttl <= 0 {
		return cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		return cached{}, false
	}
	return e, true
}

func (c *cache) put(key string, allow bool, reason string, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]cached)
	}
	if len(c.entries) >= maxCached {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCached {
			clear(c.entries)
		}
	}
	c.entries[key] = cached{allow: allow, reason: reason, expires: now.Add(c.ttl)}
}
