package audit

import (
	"context"
	"testing"
	"time"
)

// TestLoaderFallsBackToTheFileWhenMemoryOverflows: with the store down,
// appends outrun the in-memory queue; once it is back, everything loads
// exactly once, partly from memory and partly from the file, with the
// completions applied.
func TestLoaderFallsBackToTheFileWhenMemoryOverflows(t *testing.T) {
	store, _ := newStore(t)
	flaky := &flakyStore{Store: store}
	j := openJournal(t, t.TempDir(), flaky, Options{BatchSize: 10, BatchInterval: 5 * time.Millisecond, SegmentSize: 4 << 10})
	flaky.failing.Store(true)
	const n = 300 // far more than maxRecent batches of 10, over several segments
	for i := range n {
		r := testRecord(i)
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
		r.Reason = "changed after Append" // the journal must have kept its own copy
		if i%2 == 0 {
			if err := j.Complete(Completion{ID: r.ID, Status: 200 + i%100}); err != nil {
				t.Fatal(err)
			}
		}
	}
	j.mu.Lock()
	kept := len(j.recent)
	j.mu.Unlock()
	if kept > maxRecent*10 {
		t.Fatalf("memory queue holds %d entries, bound is %d", kept, maxRecent*10)
	}
	flaky.failing.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, r := range checkIDs(t, store, n) {
		if r.Reason == "changed after Append" {
			t.Fatalf("record %s stored the caller's later change", r.ID)
		}
		if want := i%2 == 0; r.Completed != want || (want && r.Status != 200+i%100) {
			t.Fatalf("record %d: completed=%v status=%d", i, r.Completed, r.Status)
		}
	}
}
