package sqlfacts

import (
	"container/list"
	"sync"
)

// entry is one cached analysis, valid for every text with the same key
// whose exact literals match.
type entry struct {
	key      string
	src      string    // the text that was analysed
	a        *Analysis // its facts
	where    []bounds  // its statements' places in src
	lits     []span    // its literals
	abstract []bool    // per literal: may differ in a text that hits
	size     int
}

// matches reports whether sql (with literals lits) reads as e.src does.
func (e *entry) matches(sql string, lits []span) bool {
	if len(lits) != len(e.lits) {
		return false
	}
	for i, l := range e.lits {
		if e.abstract[i] {
			continue
		}
		if sql[lits[i].start:lits[i].end] != e.src[l.start:l.end] {
			return false
		}
	}
	return true
}

// instantiate returns e's facts with statement texts taken from sql.
func (e *entry) instantiate(sql string, lits []span) *Analysis {
	out := *e.a
	out.Statements = make([]Statement, len(e.a.Statements))
	m := offsetMap{from: e.lits, to: lits}
	for k := range e.a.Statements {
		out.Statements[k] = e.a.Statements[k]
		start, end := m.next(e.where[k].start), m.next(e.where[k].end)
		out.Statements[k].Text = trimSpace(sql[start:end])
	}
	return &out
}

// offsetMap maps offsets in a text whose literals are from to the same
// places in a text whose literals are to. Asked for offsets in increasing
// order (statements come in order), mapping them all costs one pass.
type offsetMap struct {
	from, to []span
	i        int // literals wholly before the last offset asked for
	delta    int // how much longer to is up to there
	last     int
}

func (m *offsetMap) next(off int) int {
	if off < m.last {
		m.i, m.delta = 0, 0 // out of order: start over
	}
	m.last = off
	for m.i < len(m.from) && m.from[m.i].end <= off {
		l := m.from[m.i]
		m.delta += (m.to[m.i].end - m.to[m.i].start) - (l.end - l.start)
		m.i++
	}
	return off + m.delta
}

// lru is a bounded least-recently-used map of entries, limited by count
// and by the bytes of text it holds.
type lru struct {
	mu       sync.Mutex
	maxItems int
	maxBytes int
	bytes    int
	ll       *list.List
	items    map[string]*list.Element
}

func newLRU(maxItems, maxBytes int) *lru {
	return &lru{maxItems: maxItems, maxBytes: maxBytes, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *lru) get(key []byte) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[string(key)]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*entry)
}

func (c *lru) put(e *entry) {
	if e.size > c.maxBytes/16 || c.maxItems <= 0 {
		return // too big to be worth keeping
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.items[e.key]; ok {
		c.remove(old)
	}
	c.items[e.key] = c.ll.PushFront(e)
	c.bytes += e.size
	for c.ll.Len() > c.maxItems || c.bytes > c.maxBytes {
		c.remove(c.ll.Back())
	}
}

func (c *lru) remove(el *list.Element) {
	e := el.Value.(*entry)
	c.ll.Remove(el)
	delete(c.items, e.key)
	c.bytes -= e.size
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
