package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

const (
	applyTimeout = time.Minute      // the longest one store call may take
	maxBackoff   = 10 * time.Second // the longest wait between retries of a failing store
)

// run is the background loader: every BatchInterval, or when nudged, it
// fsyncs the journal (SyncBatch) and loads what was appended into the store.
func (j *Journal) run() {
	defer close(j.done)
	tick := time.NewTicker(j.opts.BatchInterval)
	defer tick.Stop()
	backoff := j.opts.BatchInterval
	var retryAt time.Time
	for {
		select {
		case <-j.quit:
			j.closeErr = j.loadAll()
			if j.closeErr != nil {
				j.closeErr = fmt.Errorf("audit: journal not fully loaded into the store; the rest loads on the next open: %w", j.closeErr)
			}
			return
		case <-tick.C:
		case <-j.wake:
		}
		if j.opts.Sync == SyncBatch {
			if err := j.syncTo(j.end()); err != nil {
				j.log.Error("audit: sync journal", "err", err)
			}
		}
		if time.Now().Before(retryAt) {
			continue
		}
		if err := j.loadAll(); err != nil {
			j.log.Error("audit: load journal into the store", "journal", j.id, "err", err, "retry_in", backoff)
			retryAt = time.Now().Add(backoff)
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff, retryAt = j.opts.BatchInterval, time.Time{}
	}
}

// loadAll loads the journal into the store, in batches, up to its end.
func (j *Journal) loadAll() error {
	j.pending.Store(0)
	for {
		end := j.end()
		if !j.pos.less(end) {
			return nil
		}
		entries, next := j.takeRecent(j.pos, j.opts.BatchSize)
		var err error
		if len(entries) == 0 {
			entries, next, err = j.readBatch(end)
		}
		if err == nil && !j.pos.less(next) {
			err = fmt.Errorf("no progress reading the journal at %+v", j.pos)
		}
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
			err = j.store.Apply(ctx, j.id, entries, next)
			cancel()
		}
		if err != nil {
			j.lmu.Lock()
			j.loadErr = err
			j.lmu.Unlock()
			return err
		}
		if next.Segment > j.pos.Segment && j.syncStore() {
			j.removeSegmentsBefore(next.Segment)
		}
		j.pos = next
		j.lmu.Lock()
		j.loaded, j.loadErr = next, nil
		close(j.progress)
		j.progress = make(chan struct{})
		j.lmu.Unlock()
	}
}

// readBatch reads up to BatchSize entries from j.pos, not past end, and
// returns them with the position after them.
func (j *Journal) readBatch(end Position) ([]Entry, Position, error) {
	pos := j.pos
	var entries []Entry
	for len(entries) < j.opts.BatchSize && pos.less(end) {
		f, err := os.Open(segmentPath(j.opts.Dir, pos.Segment))
		if errors.Is(err, fs.ErrNotExist) {
			// Loaded and removed, or the position is the zero Position:
			// go on with the next segment that exists.
			next, ok, err := nextSegment(j.opts.Dir, pos.Segment)
			if err != nil {
				return nil, pos, err
			}
			if !ok || next > end.Segment {
				return nil, pos, fmt.Errorf("journal segment %s is missing", segmentName(end.Segment))
			}
			if pos.Offset > 0 {
				j.log.Warn("audit: journal segment vanished before it was fully loaded",
					"segment", segmentName(pos.Segment), "loaded_bytes", pos.Offset)
			}
			pos = Position{next, 0}
			continue
		}
		if err != nil {
			return nil, pos, fmt.Errorf("open journal segment: %w", err)
		}
		entries, pos, err = j.readSegment(f, pos, end, entries)
		f.Close()
		if err != nil {
			return nil, pos, err
		}
	}
	return entries, pos, nil
}

// readSegment appends to entries the lines of f from pos, until the batch
// is full, end is reached or f ends. A segment older than end's is
// complete, so reaching its end moves pos to the next segment.
func (j *Journal) readSegment(f *os.File, pos, end Position, entries []Entry) ([]Entry, Position, error) {
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		return entries, pos, fmt.Errorf("read journal: %w", err)
	}
	newest := pos.Segment == end.Segment
	var r io.Reader = f
	if newest {
		r = io.LimitReader(f, end.Offset-pos.Offset) // lines written after end are not complete yet
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for len(entries) < j.opts.BatchSize {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			at := pos
			pos.Offset += int64(len(line))
			if e, ok := j.parseLine(line, at); ok {
				entries = append(entries, e)
			}
			continue
		}
		if err != io.EOF {
			return entries, pos, fmt.Errorf("read journal: %w", err)
		}
		if newest {
			return entries, pos, nil // end is at a line boundary: line is empty
		}
		if len(line) > 0 {
			j.log.Warn("audit: skipping a partial line at the end of a journal segment",
				"segment", segmentName(pos.Segment), "offset", pos.Offset, "bytes", len(line))
		}
		next, ok, err := nextSegment(j.opts.Dir, pos.Segment)
		if err != nil {
			return entries, pos, err
		}
		if !ok {
			return entries, pos, fmt.Errorf("journal segment after %s is missing", segmentName(pos.Segment))
		}
		return entries, Position{next, 0}, nil
	}
	return entries, pos, nil
}

// parseLine decodes one journal line. A line that is not a valid entry is
// logged and skipped, so that it never blocks loading.
func (j *Journal) parseLine(line []byte, at Position) (Entry, bool) {
	var e Entry
	err := json.Unmarshal(line, &e)
	if err == nil {
		err = e.check()
	}
	if err != nil {
		const show = 120
		snippet := line[:len(line)-1]
		if len(snippet) > show {
			snippet = snippet[:show]
		}
		j.log.Warn("audit: skipping an unreadable journal line",
			"segment", segmentName(at.Segment), "offset", at.Offset, "err", err, "line", string(snippet))
		return Entry{}, false
	}
	return e, true
}

// syncStore makes the store's loaded batches durable, if it can, before
// journal segments are deleted. It reports whether deleting is safe.
func (j *Journal) syncStore() bool {
	s, ok := j.store.(interface{ Sync(context.Context) error })
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	if err := s.Sync(ctx); err != nil {
		j.log.Warn("audit: keeping loaded journal segments: the store could not sync", "err", err)
		return false
	}
	return true
}

// removeSegmentsBefore deletes the segments numbered below n: the store
// has all of them.
func (j *Journal) removeSegmentsBefore(n int64) {
	segs, err := listSegments(j.opts.Dir)
	if err != nil {
		j.log.Warn("audit: remove loaded journal segments", "err", err)
		return
	}
	for _, s := range segs {
		if s >= n {
			break
		}
		if err := os.Remove(segmentPath(j.opts.Dir, s)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.log.Warn("audit: remove loaded journal segment", "segment", segmentName(s), "err", err)
		}
	}
}

// Flush returns once everything appended before the call is in the store,
// or when ctx is done.
func (j *Journal) Flush(ctx context.Context) error {
	j.mu.Lock()
	closed, target := j.closed, Position{j.seg, j.size}
	j.mu.Unlock()
	if closed {
		return ErrClosed
	}
	for {
		j.lmu.Lock()
		loaded, progress := j.loaded, j.progress
		j.lmu.Unlock()
		if !loaded.less(target) {
			return nil
		}
		j.nudge()
		select {
		case <-progress:
		case <-j.done:
			j.lmu.Lock()
			loaded = j.loaded
			j.lmu.Unlock()
			if !loaded.less(target) {
				return nil
			}
			return ErrClosed
		case <-ctx.Done():
			j.lmu.Lock()
			lerr := j.loadErr
			j.lmu.Unlock()
			if lerr != nil {
				return fmt.Errorf("audit: flush: %w (last load error: %v)", ctx.Err(), lerr)
			}
			return fmt.Errorf("audit: flush: %w", ctx.Err())
		}
	}
}
