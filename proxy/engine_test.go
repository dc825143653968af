package proxy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// loadPolicy loads src as a policy file.
func loadPolicy(t *testing.T, src string) *policy.Policy {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ward.star")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(path, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newEngine(t *testing.T, src string) (*Engine, *audit.Journal, *Snapshot) {
	t.Helper()
	dir := t.TempDir()
	p := loadPolicy(t, src)
	snap, err := NewSnapshot(context.Background(), p, builtins.Resolver{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	j, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "journal")}, store)
	if err != nil {
		t.Fatal(err)
	}
	return NewEngine(j, snap, slog.New(slog.DiscardHandler)), j, snap
}

const denyAll = `http(name = "api", hosts = ["a.example"], on_request = lambda r: deny("never"))`

// TestDecideFailsClosedWithoutJournal: when the audit journal cannot be
// written, Decide returns an error and the caller must not forward.
func TestDecideFailsClosedWithoutJournal(t *testing.T) {
	e, j, snap := newEngine(t, `http(name = "api", hosts = ["a.example"], on_request = lambda r: allow())`)
	ep := snap.Policy.Endpoint("api")
	act := e.NewAction("http", "api", action.LocalAgent("127.0.0.1:1"))
	if d, err := e.Decide(context.Background(), snap, ep, "on_request", act); err != nil || !d.Forward {
		t.Fatalf("before close: %+v, %v", d, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	act = e.NewAction("http", "api", action.LocalAgent("127.0.0.1:1"))
	d, err := e.Decide(context.Background(), snap, ep, "on_request", act)
	if err == nil || d.Forward || !strings.Contains(err.Error(), "audit log unavailable") {
		t.Fatalf("after close: %+v, %v", d, err)
	}
	if err := e.Record(act, audit.VerdictDeny, action.Deny("x")); err == nil {
		t.Fatal("Record succeeded without a journal")
	}
}

func TestObserveModeForwardsDenials(t *testing.T) {
	e, j, snap := newEngine(t, "gateway(mode = \"observe\")\n"+denyAll)
	defer j.Close()
	act := e.NewAction("http", "api", action.LocalAgent(""))
	d, err := e.Decide(context.Background(), snap, snap.Policy.Endpoint("api"), "on_request", act)
	if err != nil || !d.Forward || d.Recorded != audit.VerdictWouldDeny || d.Verdict.Allowed || d.Verdict.Reason != "never" {
		t.Fatalf("%+v, %v", d, err)
	}
}

func TestMissingHookDenies(t *testing.T) {
	e, j, snap := newEngine(t, denyAll)
	defer j.Close()
	act := e.NewAction("http", "api", action.LocalAgent(""))
	d, err := e.Decide(context.Background(), snap, snap.Policy.Endpoint("api"), "on_query", act)
	if err != nil || d.Forward || !strings.Contains(d.Verdict.Reason, "has no on_query hook") {
		t.Fatalf("%+v, %v", d, err)
	}
}
