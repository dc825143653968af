package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by [Journal] methods called after [Journal.Close].
var ErrClosed = errors.New("audit: journal is closed")

// Options configure a [Journal].
type Options struct {
	// Dir is the journal's folder, e.g. <state dir>/journal. It is created
	// (0700) if missing. One process at a time may open it.
	Dir string
	// Sync chooses when the journal is fsynced; the default is SyncBatch.
	Sync SyncMode
	// SegmentSize is the size after which appends go to a new segment
	// file; default 64 MiB.
	SegmentSize int64
	// BatchInterval is how often the loader runs (and, with SyncBatch, the
	// longest time an appended line waits for its fsync); default 100ms.
	// The loader also runs as soon as BatchSize entries are waiting, and
	// when Flush asks.
	BatchInterval time.Duration
	// BatchSize is the most entries loaded in one store transaction;
	// default 2000.
	BatchSize int
	// Logger receives warnings (a truncated partial line, a skipped
	// unreadable line) and loader errors; default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns o with its zero fields set to the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("audit: no journal folder (Options.Dir)")
	}
	sync, err := ParseSyncMode(string(o.Sync))
	if err != nil {
		return o, fmt.Errorf("audit: %w", err)
	}
	o.Sync = sync
	if o.SegmentSize <= 0 {
		o.SegmentSize = 64 << 20
	}
	if o.BatchInterval <= 0 {
		o.BatchInterval = 100 * time.Millisecond
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Journal is the append-only audit journal and its background loader.
//
// Append and Complete write to the journal; a background goroutine loads
// what they wrote into the [Store]. All methods are safe for concurrent use.
type Journal struct {
	opts    Options
	store   Store
	id      string
	log     *slog.Logger
	lock    *os.File
	buffers sync.Pool // of *[]byte, for encoding lines

	mu      sync.Mutex // guards the fields below
	f       *os.File   // the newest segment, open for appending
	seg     int64      // its number
	size    int64      // its size: the end of the last complete line
	durable Position   // everything before it is fsynced
	closed  bool
	broken  error // a failed write could not be undone; appends fail
	// recent holds entries appended and not yet loaded, in journal order,
	// so that the loader takes them from memory instead of reading and
	// decoding the file again. Bounded; see keepRecent.
	recent []recentEntry

	syncMu sync.Mutex // serializes fsyncs so that waiting appenders share one; taken before mu

	pending atomic.Int64  // appends since the loader last ran
	wake    chan struct{} // nudges the loader; never blocks a sender
	quit    chan struct{} // closed by Close
	done    chan struct{} // closed when the loader has stopped

	// pos is how far the journal is loaded. It belongs to the loader
	// goroutine (and to Open before the loader starts).
	pos      Position
	closeErr error // the loader's final load error; read after done

	lmu      sync.Mutex    // guards the fields below
	loaded   Position      // pos, as published to Flush
	progress chan struct{} // closed and replaced when loaded moves
	loadErr  error         // the last load failure; nil after a success
}

// Open opens (or creates) the journal in opts.Dir, loads into store the
// journal's tail that store lacks, and starts the background loader.
//
// If the newest segment ends with a partial line (a machine crash during a
// write), the partial line is cut off with a warning. The caller still owns
// store: Close does not close it.
func Open(opts Options, store Store) (*Journal, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("audit: no store")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: create journal folder: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	j := &Journal{
		opts:     opts,
		store:    store,
		log:      opts.Logger,
		lock:     lock,
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		progress: make(chan struct{}),
	}
	j.buffers.New = newBuffer
	if err := j.open(); err != nil {
		if j.f != nil {
			j.f.Close()
		}
		unlockDir(lock)
		return nil, fmt.Errorf("audit: open journal %s: %w", opts.Dir, err)
	}
	go j.run()
	return j, nil
}

// open reads the journal's state from disk and the store, and loads the
// tail.
func (j *Journal) open() error {
	id, err := readOrCreateID(j.opts.Dir)
	if err != nil {
		return err
	}
	j.id = id
	segs, err := listSegments(j.opts.Dir)
	if err != nil {
		return err
	}
	newest := int64(1)
	if len(segs) > 0 {
		newest = segs[len(segs)-1]
		path := segmentPath(j.opts.Dir, newest)
		n, err := truncatePartialLine(path)
		if err != nil {
			return err
		}
		if n > 0 {
			j.log.Warn("audit: cut off a partial line at the end of the journal (crash during a write)",
				"segment", path, "bytes", n)
		}
	}
	j.f, j.size, err = openSegment(j.opts.Dir, newest)
	if err != nil {
		return err
	}
	j.seg = newest
	if len(segs) == 0 && j.opts.Sync != SyncNever {
		if err := syncDir(j.opts.Dir); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	pos, err := j.store.Position(ctx, j.id)
	cancel()
	if err != nil {
		return fmt.Errorf("read journal position from the audit store: %w", err)
	}
	if end := j.end(); end.less(pos) {
		j.log.Warn("audit: the store has loaded more of the journal than it holds (journal lines lost in a machine crash with audit_sync = \"never\"?); resuming at the journal's end",
			"journal", j.id, "store_position", pos, "journal_end", end)
		pos = end
	}
	j.pos, j.loaded = pos, pos
	j.removeSegmentsBefore(pos.Segment)
	if err := j.loadAll(); err != nil {
		return fmt.Errorf("load the journal's tail into the audit store: %w", err)
	}
	return nil
}

// end returns the position after the last complete line.
func (j *Journal) end() Position {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Position{j.seg, j.size}
}

// ID returns the journal's ID, under which the store keeps its position.
func (j *Journal) ID() string { return j.id }

// Close loads everything appended into the store, stops the loader and
// closes the journal's files. Append, Complete and Flush fail after Close.
//
// If the last load fails, Close still closes the journal and returns the
// error; the entries stay in the journal and are loaded by the next Open.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.closed = true
	j.mu.Unlock()

	close(j.quit)
	<-j.done
	errs := []error{j.closeErr}

	j.mu.Lock()
	if j.opts.Sync != SyncNever {
		if err := j.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("audit: sync journal: %w", err))
		} else {
			j.durable = Position{j.seg, j.size}
		}
	}
	if err := j.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("audit: close journal: %w", err))
	}
	j.mu.Unlock()
	if err := unlockDir(j.lock); err != nil {
		errs = append(errs, fmt.Errorf("audit: unlock journal: %w", err))
	}
	return errors.Join(errs...)
}
