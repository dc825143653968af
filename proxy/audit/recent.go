package audit

// recentEntry is an appended entry the loader has not loaded yet, with the
// journal positions of its line.
type recentEntry struct {
	e          Entry
	start, end Position
}

// maxRecent bounds the entries kept in memory for the loader, in units of
// batches. Beyond it the loader reads the file, as it does after a restart.
const maxRecent = 4

// keepRecent keeps e, whose line spans start..end, for the loader. j.mu is
// held. When the loader falls behind and the queue is full, later entries
// are not kept; the loader reads them from the file, and the queue holds
// only lines contiguous with what it already holds.
func (j *Journal) keepRecent(e Entry, start, end Position) {
	if len(j.recent) >= maxRecent*j.opts.BatchSize {
		return
	}
	if e.Record != nil {
		r := *e.Record // the caller's record is its own again once Append returns
		e.Record = &r
	} else {
		c := *e.Completion
		e.Completion = &c
	}
	j.recent = append(j.recent, recentEntry{e: e, start: start, end: end})
}

// takeRecent returns up to n entries from memory that continue the journal
// exactly at pos, and the position after them. It drops what the loader
// has already loaded from the file. No entries means: read the file.
func (j *Journal) takeRecent(pos Position, n int) ([]Entry, Position) {
	j.mu.Lock()
	defer j.mu.Unlock()
	i := 0
	for i < len(j.recent) && !pos.less(j.recent[i].end) {
		i++ // loaded already, from the file
	}
	var entries []Entry
	for i < len(j.recent) && len(entries) < n && j.recent[i].start == pos {
		entries = append(entries, j.recent[i].e)
		pos = j.recent[i].end
		i++
	}
	j.recent = j.recent[i:]
	if len(j.recent) == 0 {
		j.recent = nil // let the backing array go
	}
	return entries, pos
}
