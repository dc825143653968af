package audit

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/wardproject/ward/protocols/action"
)

// filterFixture stores six records, seq 1..6:
//
//	seq  id  verdict  endpoint  agent
//	1    r1  allow    github    alice
//	2    r2  deny     github    bob
//	3    r3  allow    slack     alice
//	4    r4  deny     slack     alice
//	5    r5  deny     github    alice
//	6    r6  allow    github    bob
func filterFixture(t *testing.T) *SQLiteStore {
	t.Helper()
	store, _ := newStore(t)
	rows := []struct{ verdict, endpoint, agent string }{
		{VerdictAllow, "github", "alice"},
		{VerdictDeny, "github", "bob"},
		{VerdictAllow, "slack", "alice"},
		{VerdictDeny, "slack", "alice"},
		{VerdictDeny, "github", "alice"},
		{VerdictAllow, "github", "bob"},
	}
	var entries []Entry
	for i, r := range rows {
		entries = append(entries, Entry{Record: &Record{
			ID: "r" + string(rune('1'+i)), Verdict: r.verdict, Endpoint: r.endpoint,
			Agent: action.Agent{Name: r.agent, User: r.agent}, Time: time.Now(),
		}})
	}
	if err := store.Apply(context.Background(), "j", entries, Position{1, 100}); err != nil {
		t.Fatal(err)
	}
	return store
}

func TestFilter(t *testing.T) {
	store := filterFixture(t)
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"all", Filter{}, []string{"r1", "r2", "r3", "r4", "r5", "r6"}},
		{"verdict", Filter{Verdict: VerdictDeny}, []string{"r2", "r4", "r5"}},
		{"endpoint", Filter{Endpoint: "slack"}, []string{"r3", "r4"}},
		{"agent", Filter{Agent: "bob"}, []string{"r2", "r6"}},
		{"combined", Filter{Verdict: VerdictDeny, Endpoint: "github", Agent: "alice"}, []string{"r5"}},
		{"no match", Filter{Verdict: VerdictRefused}, nil},
		{"after seq", Filter{AfterSeq: 4}, []string{"r5", "r6"}},
		{"before seq", Filter{BeforeSeq: 3}, []string{"r1", "r2"}},
		{"between", Filter{AfterSeq: 1, BeforeSeq: 5}, []string{"r2", "r3", "r4"}},
		{"limit takes the oldest", Filter{Limit: 2}, []string{"r1", "r2"}},
		{"limit after seq", Filter{AfterSeq: 2, Limit: 2}, []string{"r3", "r4"}},
		{"newest", Filter{Newest: true, Limit: 2}, []string{"r5", "r6"}},
		{"newest before seq (paging back)", Filter{Newest: true, BeforeSeq: 5, Limit: 2}, []string{"r3", "r4"}},
		{"newest with verdict", Filter{Newest: true, Verdict: VerdictAllow, Limit: 2}, []string{"r3", "r6"}},
		{"newest without limit", Filter{Newest: true}, []string{"r1", "r2", "r3", "r4", "r5", "r6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := store.List(context.Background(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestDefaultLimit(t *testing.T) {
	store, _ := newStore(t)
	var entries []Entry
	for i := range DefaultLimit + 5 {
		entries = append(entries, Entry{Record: testRecord(i)})
	}
	if err := store.Apply(context.Background(), "j", entries, Position{1, 1}); err != nil {
		t.Fatal(err)
	}
	rs, err := store.List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != DefaultLimit {
		t.Errorf("List returned %d records, want %d", len(rs), DefaultLimit)
	}
}

func TestGet(t *testing.T) {
	store, _ := newStore(t)
	want := *testRecord(7)
	want.Time = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))
	want.Details = []byte(`{"model":"m","tokens":12}`)
	want.JudgeMicros = 42
	entries := []Entry{
		{Record: &want},
		{Completion: &Completion{ID: want.ID, Status: 204, BytesIn: 10, BytesOut: 20, Duration: 3 * time.Millisecond, Error: "e"}},
	}
	if err := store.Apply(context.Background(), "j", entries, Position{1, 1}); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(context.Background(), want.ID)
	if err != nil {
		t.Fatal(err)
	}
	want.Seq = 1
	want.Time = want.Time.UTC()
	want.Completed, want.Status, want.BytesIn, want.BytesOut, want.DurationMicros, want.Error = true, 204, 10, 20, 3000, "e"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get =\n%+v\nwant\n%+v", got, want)
	}

	_, err = store.Get(context.Background(), "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an unknown ID = %v, want ErrNotFound", err)
	}
}

func TestPositions(t *testing.T) {
	store, _ := newStore(t)
	ctx := context.Background()
	if p, err := store.Position(ctx, "a"); err != nil || p != (Position{}) {
		t.Fatalf("Position of an unknown journal = %v, %v", p, err)
	}
	steps := []struct {
		journal string
		pos     Position
	}{
		{"a", Position{1, 10}},
		{"b", Position{3, 0}},
		{"a", Position{2, 5}},
	}
	for _, s := range steps {
		if err := store.Apply(ctx, s.journal, nil, s.pos); err != nil {
			t.Fatal(err)
		}
	}
	for journal, want := range map[string]Position{"a": {2, 5}, "b": {3, 0}} {
		if p, err := store.Position(ctx, journal); err != nil || p != want {
			t.Errorf("Position(%q) = %v, %v; want %v", journal, p, err, want)
		}
	}
}

func TestReadOnlyWhileWriting(t *testing.T) {
	store, path := newStore(t)
	j := openJournal(t, t.TempDir(), store, Options{})
	ro, err := OpenSQLiteReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for i := range 5 {
		if err := j.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, j)
	checkIDs(t, ro, 5)

	// --follow: new records appear after the last seen seq.
	last := all(t, ro)[4].Seq
	for i := 5; i < 8; i++ {
		if err := j.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "new records in the read-only store", func() bool {
		rs, err := ro.List(context.Background(), Filter{AfterSeq: last})
		return err == nil && len(rs) == 3
	})
	if err := ro.Apply(context.Background(), "j", nil, Position{}); err == nil {
		t.Error("Apply on a read-only store succeeded")
	}

	// Still readable once the writer has closed.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	ro2, err := OpenSQLiteReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro2.Close()
	checkIDs(t, ro2, 8)
}

func TestReadOnlyMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "audit.db")
	_, err := OpenSQLiteReadOnly(path)
	if err == nil {
		t.Fatal("OpenSQLiteReadOnly of a missing file succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not match fs.ErrNotExist", err)
	}
	contains(t, err.Error(), "no audit log at "+path)
	contains(t, err.Error(), "--state-dir")
}

func TestSchemaTooNew(t *testing.T) {
	store, path := newStore(t)
	if _, err := store.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	store.Close()
	_, err := OpenSQLite(path)
	if err == nil {
		t.Fatal("OpenSQLite of a newer schema succeeded")
	}
	contains(t, err.Error(), "upgrade ward")
}
