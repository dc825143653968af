package audit

import (
	"errors"
	"fmt"
	"os"
)

// maxPooledBuffer is the largest encoding buffer kept for reuse; a bigger
// one (a record with a large body) is left to the garbage collector.
const maxPooledBuffer = 256 << 10

// newBuffer makes a journal line buffer for the pool.
func newBuffer() any {
	b := make([]byte, 0, 4<<10)
	return &b
}

// Append writes r to the journal as one line, with one write, and returns
// once the line is in the file (and fsynced, with SyncAlways). The journal
// keeps a copy of r until it is loaded; r's JSON fields (Facts, Raw,
// Details) are shared, so the caller must not modify their bytes.
//
// r must have an ID and one of the Verdict* constants as its Verdict.
func (j *Journal) Append(r *Record) error {
	if err := r.check(); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return j.writeEntry(Entry{Record: r})
}

// Complete writes the outcome of a forwarded action to the journal; the
// loader applies it to the record with the same ID, which must have been
// appended before.
func (j *Journal) Complete(c Completion) error {
	if c.ID == "" {
		return errors.New("audit: complete: completion has no ID")
	}
	return j.writeEntry(Entry{Completion: &c})
}

// writeEntry encodes e into a pooled buffer and writes it.
func (j *Journal) writeEntry(e Entry) error {
	bp := j.buffers.Get().(*[]byte)
	line, err := appendEntry((*bp)[:0], e)
	if err != nil {
		j.buffers.Put(bp)
		return fmt.Errorf("audit: encode journal entry: %w", err)
	}
	err = j.writeLine(line, e)
	if cap(line) <= maxPooledBuffer {
		*bp = line
		j.buffers.Put(bp)
	}
	return err
}

// writeLine appends one complete line, the encoding of e, to the newest
// segment, and keeps e for the loader.
func (j *Journal) writeLine(line []byte, e Entry) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	if j.broken != nil {
		j.mu.Unlock()
		return fmt.Errorf("audit: journal unusable since a failed write: %w", j.broken)
	}
	if j.size > 0 && j.size+int64(len(line)) > j.opts.SegmentSize {
		if err := j.rotateLocked(); err != nil {
			j.mu.Unlock()
			return err
		}
	}
	n, err := j.f.Write(line)
	if err != nil {
		if n > 0 {
			// Take back the partial line, or the next line would be
			// glued to it and lost with it.
			if terr := j.f.Truncate(j.size); terr != nil {
				j.broken = fmt.Errorf("write: %w; undo: %w", err, terr)
			}
		}
		j.mu.Unlock()
		return fmt.Errorf("audit: write journal: %w", err)
	}
	start := Position{j.seg, j.size}
	j.size += int64(n)
	end := Position{j.seg, j.size}
	j.keepRecent(e, start, end)
	j.mu.Unlock()

	if j.opts.Sync == SyncAlways {
		if err := j.syncTo(end); err != nil {
			return err
		}
	}
	if j.pending.Add(1) == int64(j.opts.BatchSize) {
		j.nudge()
	}
	return nil
}

// nudge wakes the loader without waiting.
func (j *Journal) nudge() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// rotateLocked closes the newest segment and starts the next one. j.mu is
// held.
func (j *Journal) rotateLocked() error {
	if j.opts.Sync != SyncNever {
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("audit: sync journal before rotating: %w", err)
		}
		j.durable = Position{j.seg, j.size}
	}
	f, size, err := openSegment(j.opts.Dir, j.seg+1)
	if err != nil {
		return fmt.Errorf("audit: rotate journal: %w", err)
	}
	if size != 0 {
		f.Close()
		return fmt.Errorf("audit: rotate journal: new segment %s is not empty", segmentName(j.seg+1))
	}
	if j.opts.Sync != SyncNever {
		if err := syncDir(j.opts.Dir); err != nil {
			f.Close()
			return fmt.Errorf("audit: rotate journal: %w", err)
		}
	}
	if err := j.f.Close(); err != nil {
		j.log.Warn("audit: close journal segment", "segment", segmentName(j.seg), "err", err)
	}
	j.f, j.seg, j.size = f, j.seg+1, 0
	return nil
}

// syncTo returns once everything before end is fsynced. Callers that
// arrive while an fsync runs wait for it and usually find their line
// covered, so concurrent appends share fsyncs.
func (j *Journal) syncTo(end Position) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	if !j.durable.less(end) {
		j.mu.Unlock()
		return nil
	}
	f, cur := j.f, Position{j.seg, j.size}
	j.mu.Unlock()

	err := f.Sync()

	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		if errors.Is(err, os.ErrClosed) && !j.durable.less(end) {
			return nil // rotated or closed meanwhile, and synced then
		}
		return fmt.Errorf("audit: sync journal: %w", err)
	}
	if j.durable.less(cur) {
		j.durable = cur
	}
	return nil
}
