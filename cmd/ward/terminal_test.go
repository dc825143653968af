package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
)

// An agent writes the summary, the note's inputs and its own name: printed
// raw, terminal escapes in them could redraw the line the operator reads
// before `ward approve` (a DROP shown as a SELECT). ward approvals, ward
// approve and ward log show control characters escaped instead.
func TestAgentTextCannotDriveTheTerminal(t *testing.T) {
	dir := t.TempDir()
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	evil := "DROP TABLE users; -- \x1b[2K\r\u202eSELECT 1\x9b"
	a := &audit.Approval{ID: "pevil", ActionID: "a1", Owner: "gw", Judge: "slack:#ops", Created: now, Expires: now.Add(time.Hour),
		Protocol: "postgres", Endpoint: "prod", Agent: action.Agent{Name: "bot\x1b]0;title\x07"}, Summary: evil,
		Note: "write by \x1b[8m", State: audit.ApprovalPending}
	if err := store.CreateApproval(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	store.Close()
	for _, args := range [][]string{{"approvals"}, {"approvals", "--all"}, {"approve", "pevil"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(args, "--state-dir", dir), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != 0 || !strings.Contains(out, "DROP TABLE users") {
			t.Fatalf("ward %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		for _, bad := range []string{"\x1b", "\r", "\x07", "\u202e", "\u009b"} {
			if strings.Contains(out, bad) {
				t.Errorf("ward %s printed %q raw:\n%q", strings.Join(args, " "), bad, out)
			}
		}
	}
	line := formatRecord(audit.Record{ID: "a1", Agent: action.Agent{Name: "bot"}, Summary: evil, Reason: "\x1b[1A"})
	if strings.ContainsAny(line, "\x1b\r\u202e\u009b") {
		t.Errorf("ward log line %q", line)
	}
}
