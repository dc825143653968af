package audit

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestKilledProcessLosesNothing appends from a child process that is
// killed (SIGKILL) mid-stream; every record whose Append returned must be
// in the store once the journal is reopened.
func TestKilledProcessLosesNothing(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs SIGKILL; runs on Linux, where CI runs")
	}
	if dir := os.Getenv("AUDIT_TEST_CHILD_DIR"); dir != "" {
		runKilledChild(dir, os.Getenv("AUDIT_TEST_CHILD_DB"))
		return
	}
	state := t.TempDir()
	dir, db := filepath.Join(state, "journal"), filepath.Join(state, "audit.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledProcessLosesNothing$")
	cmd.Env = append(os.Environ(), "AUDIT_TEST_CHILD_DIR="+dir, "AUDIT_TEST_CHILD_DB="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The child prints the index of each record after Append returns;
	// kill it after a while.
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if i, err := strconv.Atoi(sc.Text()); err == nil {
			acked = i
		}
		if acked == 2000 {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	cmd.Wait()
	if acked < 2000 {
		t.Fatalf("child acknowledged only %d records", acked+1)
	}

	store, err := OpenSQLite(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	t.Logf("child acknowledged %d records; its loader had stored %d", acked+1, len(all(t, store)))
	j := openJournal(t, dir, store, Options{})
	rs := all(t, store)
	seen := map[string]bool{}
	for _, r := range rs {
		if seen[r.ID] {
			t.Errorf("record %s stored twice", r.ID)
		}
		seen[r.ID] = true
	}
	for i := 0; i <= acked; i++ {
		if !seen[testRecord(i).ID] {
			t.Fatalf("record %d was acknowledged but is missing (store has %d records, %d acknowledged)", i, len(rs), acked+1)
		}
	}
	j.Close()
}

// runKilledChild appends records until it is killed, printing each index
// once its Append has returned.
func runKilledChild(dir, db string) {
	store, err := OpenSQLite(db)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	j, err := Open(Options{Dir: dir, SegmentSize: 64 << 10, BatchInterval: time.Millisecond}, store)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		if err := j.Append(testRecord(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(w, i)
		if i%50 == 0 {
			w.Flush()
		}
	}
}
