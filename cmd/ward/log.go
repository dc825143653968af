package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wardproject/ward/proxy/audit"
)

const logUsage = "[--state-dir DIR] [--follow] [--verdict V] [--endpoint E] [--agent A] [--json] [-n N]"

func runLog(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("log", logUsage, stderr)
	stateDir := fs.String("state-dir", ".ward", "the gateway's state dir")
	follow := fs.Bool("follow", false, "keep printing new actions as they are recorded")
	fs.BoolVar(follow, "f", false, "short for --follow")
	verdict := fs.String("verdict", "", "only actions with this verdict: allow, deny, would_deny, refused, passthrough")
	endpoint := fs.String("endpoint", "", "only actions of this endpoint")
	agent := fs.String("agent", "", "only actions of this agent (by name)")
	asJSON := fs.Bool("json", false, "one JSON record per line")
	n := fs.Int("n", 50, "how many of the newest actions to print first")
	if code := parseNoArgs(fs, args); code >= 0 {
		return code
	}
	switch *verdict {
	case "", audit.VerdictAllow, audit.VerdictDeny, audit.VerdictWouldDeny, audit.VerdictRefused, audit.VerdictPassthrough:
	default: // a typo would print nothing, as if there were no such actions
		fmt.Fprintf(stderr, "ward log: --verdict %q: want allow, deny, would_deny, refused or passthrough\n", *verdict)
		return 2
	}
	store, err := audit.OpenSQLiteReadOnly(filepath.Join(*stateDir, "audit.db"))
	if err != nil {
		return fail(stderr, "log", err)
	}
	defer store.Close()
	f := audit.Filter{Verdict: *verdict, Endpoint: *endpoint, Agent: *agent, Limit: *n, Newest: true}
	print := func(recs []audit.Record) {
		for _, rec := range recs {
			if *asJSON {
				line, _ := json.Marshal(rec)
				fmt.Fprintf(stdout, "%s\n", line)
			} else {
				fmt.Fprintln(stdout, formatRecord(rec))
			}
			f.AfterSeq = max(f.AfterSeq, rec.Seq)
		}
	}
	recs, err := store.List(ctx, f)
	if err != nil {
		return fail(stderr, "log", err)
	}
	print(recs)
	if !*follow {
		return 0
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	f.Newest, f.Limit = false, 500
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
		recs, err := store.List(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				return 0
			}
			return fail(stderr, "log", err)
		}
		print(recs)
	}
}

// formatRecord renders one action on one line.
func formatRecord(r audit.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s  %-10s %-12s %-11s", r.Time.Local().Format("2006-01-02 15:04:05.000"), r.ID,
		orDash(r.Agent.Name), orDash(r.Endpoint), r.Verdict)
	switch {
	case r.Completed && r.Status != 0:
		fmt.Fprintf(&b, " %3d", r.Status)
	case r.Completed && r.Error != "":
		b.WriteString(" err") // a protocol without status codes (Postgres)
	case r.Completed:
		b.WriteString("  ok")
	default:
		b.WriteString("   -")
	}
	fmt.Fprintf(&b, "  %s", r.Summary)
	if r.Reason != "" {
		fmt.Fprintf(&b, "  — %s", r.Reason)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "  (failed: %s)", r.Error)
	}
	if r.DecidedBy != "" {
		fmt.Fprintf(&b, " [%s, %dµs]", r.DecidedBy, r.PolicyMicros)
	}
	return printable(b.String())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
