package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTailLoadedOnOpen(t *testing.T) {
	tests := []struct {
		name  string
		write func(t *testing.T, dir string, store *SQLiteStore) // leaves records 0..4 in the journal only
	}{
		{
			name: "store failed before the loader ran",
			write: func(t *testing.T, dir string, store *SQLiteStore) {
				flaky := &flakyStore{Store: store}
				j := openJournal(t, dir, flaky, Options{BatchInterval: time.Hour})
				flaky.failing.Store(true)
				for i := range 5 {
					if err := j.Append(testRecord(i)); err != nil {
						t.Fatal(err)
					}
				}
				if err := j.Close(); !errors.Is(err, errStoreDown) {
					t.Fatalf("Close = %v, want the store's error", err)
				}
			},
		},
		{
			name: "lines written before the first open",
			write: func(t *testing.T, dir string, store *SQLiteStore) {
				var lines strings.Builder
				for i := range 5 {
					lines.WriteString(encodeLine(t, Entry{Record: testRecord(i)}))
				}
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(segmentPath(dir, 1), []byte(lines.String()), 0o600); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := newStore(t)
			dir := filepath.Join(t.TempDir(), "journal")
			tt.write(t, dir, store)
			if n := len(all(t, store)); n != 0 {
				t.Fatalf("store holds %d records before the reopen", n)
			}
			// A loader that would never run by itself: Open must load.
			j := openJournal(t, dir, store, Options{BatchInterval: time.Hour})
			checkIDs(t, store, 5)
			if err := j.Append(testRecord(5)); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			checkIDs(t, store, 6)
		})
	}
}

func TestStoreRecoversAfterFailures(t *testing.T) {
	store, _ := newStore(t)
	flaky := &flakyStore{Store: store}
	j := openJournal(t, t.TempDir(), flaky, Options{BatchInterval: time.Millisecond})
	flaky.failing.Store(true)
	for i := range 20 {
		if err := j.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a failed load", func() bool {
		j.lmu.Lock()
		defer j.lmu.Unlock()
		return j.loadErr != nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err := j.Flush(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), errStoreDown.Error()) {
		t.Fatalf("Flush with the store down = %v, want a deadline error naming the store's", err)
	}
	flaky.failing.Store(false)
	flush(t, j)
	checkIDs(t, store, 20)
}

func TestPartialLastLineIsTruncated(t *testing.T) {
	store, _ := newStore(t)
	dir := t.TempDir()
	j := openJournal(t, dir, store, Options{})
	for i := range 3 {
		if err := j.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	seg := segmentPath(dir, 1)
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	partial := encodeLine(t, Entry{Record: testRecord(99)})
	f.WriteString(partial[:len(partial)/2])
	f.Close()

	var logs logBuffer
	j = openJournal(t, dir, store, Options{Logger: logs.logger()})
	contains(t, logs.String(), "partial line")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), "}\n") {
		t.Errorf("segment still ends with a partial line: %q", b[max(0, len(b)-40):])
	}
	for i := 3; i < 5; i++ {
		if err := j.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, j)
	checkIDs(t, store, 5)
}

func TestUnreadableLinesAreSkipped(t *testing.T) {
	tests := []struct {
		name    string
		garbage string
	}{
		{name: "not JSON", garbage: "this is not json\n"},
		{name: "truncated JSON", garbage: `{"record":{"id":"x"` + "\n"},
		{name: "empty object", garbage: "{}\n"},
		{name: "record without ID", garbage: `{"record":{"verdict":"allow"}}` + "\n"},
		{name: "both kinds", garbage: `{"record":{"id":"x"},"completion":{"id":"x"}}` + "\n"},
		{name: "blank line", garbage: "\n"},
		{name: "wrong types", garbage: `{"record":{"id":7}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := newStore(t)
			dir := t.TempDir()
			lines := encodeLine(t, Entry{Record: testRecord(0)}) + tt.garbage + encodeLine(t, Entry{Record: testRecord(1)})
			if err := os.WriteFile(segmentPath(dir, 1), []byte(lines), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs logBuffer
			j := openJournal(t, dir, store, Options{Logger: logs.logger()})
			checkIDs(t, store, 2)
			contains(t, logs.String(), "skipping an unreadable journal line")
			if err := j.Append(testRecord(2)); err != nil {
				t.Fatal(err)
			}
			flush(t, j)
			checkIDs(t, store, 3)
		})
	}
}

func TestStoreAheadOfJournal(t *testing.T) {
	store, _ := newStore(t)
	dir := t.TempDir()
	j := openJournal(t, dir, store, Options{})
	if err := j.Append(testRecord(0)); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// A machine crash with audit_sync = "never": the store kept a position
	// that the journal file lost.
	if err := os.Truncate(segmentPath(dir, 1), 0); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	j = openJournal(t, dir, store, Options{Logger: logs.logger()})
	contains(t, logs.String(), "store has loaded more of the journal")
	if err := j.Append(testRecord(1)); err != nil {
		t.Fatal(err)
	}
	flush(t, j)
	checkIDs(t, store, 2)
}
