package audit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures Append from parallel goroutines. The record is
// a typical HTTP action (~600 bytes as a journal line). The loader is kept
// idle (its allocations would otherwise be counted as Append's);
// BenchmarkLoad measures it.
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []SyncMode{SyncBatch, SyncNever, SyncAlways} {
		b.Run(string(mode), func(b *testing.B) {
			j := openJournal(b, b.TempDir(), nopStore{}, Options{Sync: mode, BatchInterval: time.Hour, BatchSize: 1 << 30})
			ids := make([]string, b.N+1)
			for i := range ids {
				ids[i] = "a" + strconv.Itoa(i)
			}
			var next atomic.Int64
			b.SetParallelism(8) // 8 goroutines per CPU, as under many connections
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := *testRecord(1)
				for pb.Next() {
					r.ID = ids[next.Add(1)]
					if err := j.Append(&r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkLoad measures the loader: journal lines into SQLite, per record.
func BenchmarkLoad(b *testing.B) {
	store, _ := newStore(b)
	j := openJournal(b, b.TempDir(), store, Options{BatchInterval: time.Hour, BatchSize: 2000})
	for i := range b.N {
		if err := j.Append(testRecord(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := j.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// nopStore discards everything.
type nopStore struct{}

func (nopStore) Apply(context.Context, string, []Entry, Position) error { return nil }
func (nopStore) Position(context.Context, string) (Position, error)     { return Position{}, nil }
func (nopStore) List(context.Context, Filter) ([]Record, error)         { return nil, nil }
func (nopStore) Get(context.Context, string) (Record, error)            { return Record{}, ErrNotFound }
func (nopStore) Close() error                                           { return nil }

// BenchmarkLoadWithCompletions loads records each followed by its
// completion, as the gateway writes them.
func BenchmarkLoadWithCompletions(b *testing.B) {
	store, _ := newStore(b)
	j := openJournal(b, b.TempDir(), store, Options{BatchInterval: time.Hour, BatchSize: 2000})
	for i := range b.N {
		r := testRecord(i)
		if err := j.Append(r); err != nil {
			b.Fatal(err)
		}
		if err := j.Complete(Completion{ID: r.ID, Status: 200, BytesOut: 100, Duration: time.Millisecond}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := j.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}
