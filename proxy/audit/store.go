package audit

import (
	"context"
	"errors"
)

// ErrNotFound is returned by [Store.Get] when no record has the ID.
var ErrNotFound = errors.New("audit: no such action")

// Store is where journal entries end up, and where `ward log`,
// `ward fixture` and the dashboard read them.
type Store interface {
	// Apply stores entries and records that the journal is loaded up to
	// pos, in one transaction. Inserting a record whose ID is already
	// stored does nothing; a Completion updates the record with its ID (and
	// is dropped, with a log line, if there is none).
	Apply(ctx context.Context, journal string, entries []Entry, pos Position) error
	// Position returns how far the journal with this ID has been loaded:
	// the zero Position if it never was.
	Position(ctx context.Context, journal string) (Position, error)
	// List returns records matching f, in ascending Seq order.
	List(ctx context.Context, f Filter) ([]Record, error)
	// Get returns the record with the ID, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// Close releases the store.
	Close() error
}

// Position is a place in a journal: a byte offset in a segment. Positions
// order by segment, then offset.
type Position struct {
	Segment int64 `json:"segment"`
	Offset  int64 `json:"offset"`
}

// less reports whether p comes before q.
func (p Position) less(q Position) bool {
	if p.Segment != q.Segment {
		return p.Segment < q.Segment
	}
	return p.Offset < q.Offset
}

// Filter selects records for [Store.List].
type Filter struct {
	Verdict   string // exact match; empty = any
	Endpoint  string // exact match; empty = any
	Agent     string // agent name, exact match; empty = any
	AfterSeq  int64  // records with Seq > AfterSeq (for --follow)
	BeforeSeq int64  // when > 0, records with Seq < BeforeSeq (paging back)
	Limit     int    // at most this many records; 0 = 100
	// Newest selects the newest Limit matching records (still returned in
	// ascending Seq order); otherwise the oldest ones after AfterSeq.
	Newest bool
}

// DefaultLimit is the number of records [Store.List] returns when
// Filter.Limit is 0.
const DefaultLimit = 100
