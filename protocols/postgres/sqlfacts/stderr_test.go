package sqlfacts

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
)

// TestConcurrentAnalysisKeepsStderr: libpg_query can point the process's
// stderr (file descriptor 2) at a pipe during a parse (unless built with
// DEBUG, as pg_query_go v6 vendors it). Unserialised calls would then
// leave it at a pipe whose reader is gone, and Go kills a process whose
// write to fd 2 meets a broken pipe (the gateway logs there). Analyses,
// PL/pgSQL included, run concurrently without a lock, so this guards the
// assumption if the dependency changes.
func TestConcurrentAnalysisKeepsStderr(t *testing.T) {
	var before syscall.Stat_t
	if err := syscall.Fstat(2, &before); err != nil {
		t.Fatal(err)
	}
	z := NewAnalyzer(0, 0) // no cache: every call parses
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				z.Analyze(fmt.Sprintf("SELECT a%d_%d FROM t WHERE x = $1", g, i))
				z.Analyze(fmt.Sprintf("DO $$BEGIN PERFORM f%d(%d); x := y; END$$", g, i))
			}
		}()
	}
	wg.Wait()
	var after syscall.Stat_t
	if err := syscall.Fstat(2, &after); err != nil {
		t.Fatal(err)
	}
	if before.Dev != after.Dev || before.Ino != after.Ino {
		t.Fatalf("concurrent analyses left stderr pointing elsewhere (inode %d, was %d)", after.Ino, before.Ino)
	}
}
