package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestConcurrentAppendAndComplete(t *testing.T) {
	tests := []struct {
		name        string
		sync        SyncMode
		segmentSize int64
		batchSize   int
	}{
		{name: "batch", sync: SyncBatch},
		{name: "always", sync: SyncAlways},
		{name: "never", sync: SyncNever},
		{name: "small segments and batches", sync: SyncBatch, segmentSize: 4 << 10, batchSize: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := newStore(t)
			j := openJournal(t, t.TempDir(), store, Options{Sync: tt.sync, SegmentSize: tt.segmentSize, BatchSize: tt.batchSize})
			const goroutines, each = 16, 50
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for k := range each {
						i := g*each + k
						if err := j.Append(testRecord(i)); err != nil {
							t.Error(err)
							return
						}
						c := Completion{ID: testRecord(i).ID, Status: 200 + i, BytesIn: int64(i), BytesOut: 2 * int64(i), Duration: time.Duration(i) * time.Millisecond}
						if err := j.Complete(c); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			flush(t, j)
			for _, r := range checkIDs(t, store, goroutines*each) {
				var i int
				fmt.Sscanf(r.ID, "a%d", &i)
				if !r.Completed || r.Status != 200+i || r.BytesIn != int64(i) || r.BytesOut != 2*int64(i) || r.DurationMicros != int64(i)*1000 {
					t.Errorf("record %s: completion not applied: %+v", r.ID, r)
				}
			}
		})
	}
}

func TestReopenDoesNotDuplicate(t *testing.T) {
	store, _ := newStore(t)
	dir := t.TempDir()
	j := openJournal(t, dir, store, Options{})
	for i := range 10 {
		if err := j.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, store, 10)

	j = openJournal(t, dir, store, Options{})
	for i := 10; i < 15; i++ {
		if err := j.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, store, 15)

	// Forget the position, as if a store had lost it: the journal is
	// replayed from its start, and inserts are idempotent on ID.
	if _, err := store.db.Exec(`DELETE FROM journal_positions`); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, dir, store, Options{})
	flush(t, j)
	checkIDs(t, store, 15)
}

func TestRotation(t *testing.T) {
	store, _ := newStore(t)
	dir := t.TempDir()
	j := openJournal(t, dir, store, Options{SegmentSize: 2 << 10, BatchSize: 50})
	const n = 300
	for i := range n {
		if err := j.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			flush(t, j)
		}
	}
	flush(t, j)
	checkIDs(t, store, n)
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || segs[0] < 10 {
		t.Errorf("segments after loading = %v, want only the newest of many", segs)
	}

	// The position survives a reopen across segments.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, dir, store, Options{SegmentSize: 2 << 10})
	for i := n; i < n+50; i++ {
		if err := j.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, j)
	checkIDs(t, store, n+50)
}

func TestCompletions(t *testing.T) {
	store, _ := newStore(t)
	var logs logBuffer
	store.Logger = logs.logger()
	// BatchSize 1: a record and its completion land in different
	// transactions.
	j := openJournal(t, t.TempDir(), store, Options{BatchSize: 1})
	if err := j.Complete(Completion{ID: "unknown", Status: 200}); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(testRecord(0)); err != nil {
		t.Fatal(err)
	}
	if err := j.Complete(Completion{ID: testRecord(0).ID, Status: 502, Error: "upstream reset", Duration: 1500 * time.Microsecond}); err != nil {
		t.Fatal(err)
	}
	flush(t, j)
	r, err := store.Get(context.Background(), testRecord(0).ID)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Completed || r.Status != 502 || r.Error != "upstream reset" || r.DurationMicros != 1500 {
		t.Errorf("completion not applied: %+v", r)
	}
	contains(t, logs.String(), "unknown action")
	contains(t, logs.String(), "id=unknown")
}

func TestClosedJournal(t *testing.T) {
	store, _ := newStore(t)
	j := openJournal(t, t.TempDir(), store, Options{})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { return j.Append(testRecord(0)) }},
		{"Complete", func() error { return j.Complete(Completion{ID: "x"}) }},
		{"Flush", func() error { return j.Flush(context.Background()) }},
		{"Close", j.Close},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", tt.name, err)
			}
		})
	}
}

func TestAppendRejects(t *testing.T) {
	store, _ := newStore(t)
	j := openJournal(t, t.TempDir(), store, Options{})
	noVerdict := testRecord(0)
	noVerdict.Verdict = "maybe"
	noID := testRecord(0)
	noID.ID = ""
	badJSON := testRecord(0)
	badJSON.Facts = []byte("{not json")
	tests := []struct {
		name string
		r    *Record
		want string
	}{
		{"nil", nil, "nil record"},
		{"no ID", noID, "no ID"},
		{"unknown verdict", noVerdict, `unknown verdict "maybe"`},
		{"invalid facts", badJSON, "encode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := j.Append(tt.r)
			if err == nil {
				t.Fatal("Append succeeded")
			}
			contains(t, err.Error(), tt.want)
		})
	}
	if err := j.Complete(Completion{}); err == nil {
		t.Error("Complete without an ID succeeded")
	}
	// Nothing was written.
	flush(t, j)
	checkIDs(t, store, 0)
}

func TestJournalInUse(t *testing.T) {
	store, _ := newStore(t)
	dir := t.TempDir()
	openJournal(t, dir, store, Options{})
	_, err := Open(Options{Dir: dir}, store)
	if err == nil {
		t.Fatal("a second Open of the same journal succeeded")
	}
	contains(t, err.Error(), "in use by another process")
}

func TestFileModes(t *testing.T) {
	store, path := newStore(t)
	dir := filepath.Join(t.TempDir(), "state", "journal")
	j := openJournal(t, dir, store, Options{})
	if err := j.Append(testRecord(0)); err != nil {
		t.Fatal(err)
	}
	flush(t, j)
	tests := []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{segmentPath(dir, 1), 0o600},
		{filepath.Join(dir, idFile), 0o600},
		{path, 0o600},
		{path + "-wal", 0o600},
	}
	for _, tt := range tests {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tt.want {
			t.Errorf("%s: mode %v, want %v", tt.path, fi.Mode(), tt.want)
		}
	}
}

func TestParseSyncMode(t *testing.T) {
	tests := []struct {
		in      string
		want    SyncMode
		wantErr bool
	}{
		{"always", SyncAlways, false},
		{"batch", SyncBatch, false},
		{"never", SyncNever, false},
		{"", SyncBatch, false},
		{"sometimes", "", true},
		{"Always", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSyncMode(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseSyncMode(%q) = %q, %v", tt.in, got, err)
			}
			if err != nil {
				contains(t, err.Error(), fmt.Sprintf("audit_sync %q", tt.in))
				contains(t, err.Error(), `"always"`)
			}
		})
	}
	if _, err := Open(Options{Dir: t.TempDir(), Sync: "sometimes"}, &flakyStore{}); err == nil {
		t.Error("Open with a bad sync mode succeeded")
	}
}
