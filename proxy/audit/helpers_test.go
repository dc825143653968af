package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardproject/ward/protocols/action"
)

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newStore opens a SQLite store in a fresh folder.
func newStore(t testing.TB) (*SQLiteStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Logger = slog.New(slog.DiscardHandler)
	t.Cleanup(func() { s.Close() })
	return s, path
}

// openJournal opens a journal in dir with small test defaults; opts.Dir is
// overridden.
func openJournal(t testing.TB, dir string, store Store, opts Options) *Journal {
	t.Helper()
	opts.Dir = dir
	if opts.BatchInterval == 0 {
		opts.BatchInterval = 5 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	j, err := Open(opts, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// testRecord returns a record whose fields derive from i.
func testRecord(i int) *Record {
	verdicts := []string{VerdictAllow, VerdictDeny, VerdictWouldDeny}
	return &Record{
		ID:           fmt.Sprintf("a%08d", i),
		Time:         time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC),
		Protocol:     "http",
		Endpoint:     []string{"github", "slack"}[i%2],
		Agent:        action.Agent{Name: fmt.Sprintf("agent%d", i%3), User: "ci", Tags: []string{"tag:ci"}, Addr: "100.64.0.1:1234"},
		Summary:      fmt.Sprintf("DELETE https://api.github.com/repos/a/b/%d", i),
		Facts:        json.RawMessage(`{"method":"DELETE","path":"/repos/a/b"}`),
		Raw:          json.RawMessage(`{"method":"DELETE","url":"https://api.github.com/repos/a/b"}`),
		Verdict:      verdicts[i%3],
		Reason:       "because",
		DecidedBy:    "policy",
		PolicyMicros: int64(i),
	}
}

// flush flushes j, failing the test after a deadline.
func flush(t testing.TB, j *Journal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// all returns every record in the store.
func all(t testing.TB, s Store) []Record {
	t.Helper()
	rs, err := s.List(context.Background(), Filter{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// checkIDs fails unless the store holds exactly the records with the IDs
// of testRecord(i) for i in [0, n), each once, in increasing Seq order.
func checkIDs(t testing.TB, s Store, n int) []Record {
	t.Helper()
	rs := all(t, s)
	seen := map[string]bool{}
	for i, r := range rs {
		if seen[r.ID] {
			t.Errorf("record %s stored twice", r.ID)
		}
		seen[r.ID] = true
		if i > 0 && r.Seq <= rs[i-1].Seq {
			t.Errorf("seq not increasing: %d after %d", r.Seq, rs[i-1].Seq)
		}
	}
	for i := range n {
		if id := testRecord(i).ID; !seen[id] {
			t.Errorf("record %s missing", id)
		}
	}
	if len(rs) != n {
		t.Errorf("store holds %d records, want %d", len(rs), n)
	}
	return rs
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// flakyStore wraps a Store; while failing is set, Apply fails.
type flakyStore struct {
	Store
	failing atomic.Bool
	applies atomic.Int64
}

var errStoreDown = errors.New("store down")

func (s *flakyStore) Apply(ctx context.Context, journal string, entries []Entry, pos Position) error {
	if s.failing.Load() {
		return errStoreDown
	}
	s.applies.Add(1)
	return s.Store.Apply(ctx, journal, entries, pos)
}

// encodeLine returns e as a journal line.
func encodeLine(t testing.TB, e Entry) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func contains(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}
