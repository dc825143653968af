package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardproject/ward/proxy/audit"
)

const (
	approvalsUsage = "[--state-dir DIR] [--all] [--json] [-n N]"
	decideUsage    = "[--state-dir DIR] [--reason TEXT] [--as NAME] APPROVAL_ID"
)

func runApprovals(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("approvals", approvalsUsage, stderr)
	stateDir := fs.String("state-dir", ".ward", "the gateway's state dir")
	all := fs.Bool("all", false, "list decided approvals too, not only pending ones")
	asJSON := fs.Bool("json", false, "one JSON approval per line")
	n := fs.Int("n", 100, "at most this many approvals")
	if code := parseNoArgs(fs, args); code >= 0 {
		return code
	}
	store, err := audit.OpenSQLiteReadOnly(filepath.Join(*stateDir, "audit.db"))
	if err != nil {
		return fail(stderr, "approvals", err)
	}
	defer store.Close()
	f := audit.ApprovalFilter{State: audit.ApprovalPending, Limit: *n}
	if *all {
		f.State = ""
	}
	list, err := store.ListApprovals(ctx, f)
	if err != nil {
		return fail(stderr, "approvals", err)
	}
	for _, a := range list {
		if *asJSON {
			line, _ := json.Marshal(a)
			fmt.Fprintf(stdout, "%s\n", line)
			continue
		}
		fmt.Fprintln(stdout, formatApproval(a))
	}
	if len(list) == 0 && !*asJSON && !*all {
		fmt.Fprintln(stdout, "no pending approvals")
	}
	return 0
}

// formatApproval renders one approval on one line.
func formatApproval(a audit.Approval) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s  %-9s %-10s %-12s %s", a.ID, a.Created.Local().Format("2006-01-02 15:04:05"), a.State,
		orDash(a.Agent.Name), orDash(a.Endpoint), a.Summary)
	if a.Note != "" {
		fmt.Fprintf(&b, "  — %s", a.Note)
	}
	if a.Pending() {
		fmt.Fprintf(&b, "  [%s, expires in %s]", a.Judge, time.Until(a.Expires).Round(time.Second))
	} else {
		fmt.Fprintf(&b, "  [%s by %s", a.Judge, a.DecidedBy)
		if a.Reason != "" {
			fmt.Fprintf(&b, ": %s", a.Reason)
		}
		b.WriteString("]")
	}
	return printable(b.String())
}

func runApprove(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return decideApproval(ctx, "approve", audit.ApprovalAllowed, args, stdout, stderr)
}

func runDeny(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return decideApproval(ctx, "deny", audit.ApprovalDenied, args, stdout, stderr)
}

// decideApproval decides a pending approval in the shared store; the
// gateway waiting on it picks the decision up.
func decideApproval(ctx context.Context, cmd, state string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(cmd, decideUsage, stderr)
	stateDir := fs.String("state-dir", ".ward", "the gateway's state dir")
	reason := fs.String("reason", "", "why; the agent reads it")
	as := fs.String("as", "", "who decides, for the audit log (default: your login name)")
	ids, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(ids) != 1 {
		fs.Usage()
		return 2
	}
	id := ids[0]
	path := filepath.Join(*stateDir, "audit.db")
	if _, err := os.Stat(path); err != nil {
		ro, rerr := audit.OpenSQLiteReadOnly(path) // for its "no audit log" advice
		if rerr == nil {
			ro.Close()
		}
		return fail(stderr, cmd, rerr)
	}
	store, err := audit.OpenSQLite(path)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	defer store.Close()
	who := *as
	if who == "" {
		who = loginName()
	}
	r := *reason
	if r == "" {
		r = map[string]string{audit.ApprovalAllowed: "approved", audit.ApprovalDenied: "denied"}[state] + " by " + who + " with ward " + cmd
	}
	a, decided, err := store.DecideApproval(ctx, id, state, "cli:"+who, r, time.Now())
	if errors.Is(err, audit.ErrNotFound) {
		return fail(stderr, cmd, fmt.Errorf("no approval %s in %s (see `ward approvals`)", id, *stateDir))
	}
	if err != nil {
		return fail(stderr, cmd, err)
	}
	if !decided {
		return fail(stderr, cmd, fmt.Errorf("approval %s was already decided: %s by %s (%s)", id, a.State, printable(a.DecidedBy), printable(a.Reason)))
	}
	fmt.Fprintln(stdout, printable(fmt.Sprintf("%s %s: %s (agent %s, endpoint %s)", a.State, a.ID, a.Summary, a.Agent.Name, a.Endpoint)))
	return 0
}

func loginName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "operator"
}
