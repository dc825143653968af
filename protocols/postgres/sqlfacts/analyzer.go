package sqlfacts

import (
	"strings"
	"sync/atomic"
)

// Analyzer analyses SQL messages and caches the results. It is safe for
// concurrent use.
type Analyzer struct {
	cache        *lru
	hits, misses atomic.Int64
}

// Default cache bounds.
const (
	DefaultCacheEntries = 10_000
	DefaultCacheBytes   = 64 << 20
)

// NewAnalyzer returns an analyzer whose cache holds at most entries
// analyses and bytes bytes of statement text; entries <= 0 disables it.
func NewAnalyzer(entries, bytes int) *Analyzer {
	return &Analyzer{cache: newLRU(entries, bytes)}
}

// Analyze returns the facts of sql, one message's text. The result is
// shared and must not be modified. An error wraps ErrUnanalysable and says
// why; the statement must then be denied.
func (z *Analyzer) Analyze(sql string) (*Analysis, error) {
	var buf [16]span
	lits, lexed := scanLiterals(sql, buf[:0])
	var key []byte
	if lexed {
		key = cacheKey(sql, lits)
		if e := z.cache.get(key); e != nil && e.matches(sql, lits) {
			z.hits.Add(1)
			a := e.instantiate(sql, lits)
			a.settingDependent = readsDifferently(sql, lits, lexed)
			return a, nil
		}
	}
	z.misses.Add(1)
	a, where, r, err := analyse(sql)
	if err != nil {
		return nil, err
	}
	a.settingDependent = readsDifferently(sql, lits, lexed)
	if !lexed {
		return a, nil
	}
	e := &entry{key: string(key), src: sql, a: a, where: where, lits: append([]span(nil), lits...),
		abstract: make([]bool, len(lits)), size: 2*len(sql) + 256}
	for i, l := range lits {
		loc := int32(l.start)
		e.abstract[i] = r.consts[loc] && !r.sensitive[loc]
	}
	z.cache.put(e)
	return a, nil
}

// Stats returns the cache's hits and misses so far and its size.
func (z *Analyzer) Stats() (hits, misses int64, entries int) {
	return z.hits.Load(), z.misses.Load(), z.cache.len()
}

// cacheKey is sql with every literal replaced by a NUL (which cannot occur
// in a query's text) and its kind.
func cacheKey(sql string, lits []span) []byte {
	key := make([]byte, 0, len(sql))
	last := 0
	for _, l := range lits {
		key = append(key, sql[last:l.start]...)
		key = append(key, 0, l.kind)
		last = l.end
	}
	return append(key, sql[last:]...)
}

func trimSpace(s string) string { return strings.TrimSpace(s) }
