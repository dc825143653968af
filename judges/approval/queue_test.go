package approval

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
)

func newQueue(t *testing.T) (*Queue, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	store, err := audit.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return New(store, Options{Owner: "gw1", Poll: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}), path
}

func req(timeout time.Duration) Request {
	return Request{Judge: "slack:#ops", Action: &action.Action{ID: "a1", Protocol: "http", Endpoint: "api",
		Agent: action.Agent{Name: "bot"}}, Note: "n", Timeout: timeout}
}

func TestDecideWakesTheWaiter(t *testing.T) {
	q, _ := newQueue(t)
	w, err := q.Open(context.Background(), req(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !q.Pending(w.Approval.ID) {
		t.Fatal("not pending")
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		if _, ok, err := q.Decide(w.Approval.ID, audit.ApprovalAllowed, "slack:U1", "ok"); !ok || err != nil {
			t.Errorf("decide: %v %v", ok, err)
		}
	}()
	a := w.Wait(context.Background())
	if a.State != audit.ApprovalAllowed || a.DecidedBy != "slack:U1" {
		t.Fatalf("got %+v", a)
	}
	if q.Pending(w.Approval.ID) {
		t.Fatal("still pending after the decision")
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	q, _ := newQueue(t)
	w, _ := q.Open(context.Background(), req(30*time.Millisecond))
	a := w.Wait(context.Background())
	if a.State != audit.ApprovalTimedOut || a.DecidedBy != "timeout" || a.Reason == "" {
		t.Fatalf("timeout: %+v", a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, _ = q.Open(ctx, req(time.Minute))
	time.AfterFunc(10*time.Millisecond, cancel)
	a = w.Wait(ctx)
	if a.State != audit.ApprovalCancelled || a.Reason != "cancelled: the agent went away" {
		t.Fatalf("cancel: %+v", a)
	}
	stored, _ := q.Get(context.Background(), w.Approval.ID)
	if stored.State != audit.ApprovalCancelled {
		t.Fatalf("stored %+v", stored)
	}
}

func TestDecisionFromAnotherProcessIsPickedUp(t *testing.T) {
	q, path := newQueue(t)
	w, _ := q.Open(context.Background(), req(time.Minute))
	other, err := audit.OpenSQLite(path) // as `ward approve` does
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, ok, err := other.DecideApproval(context.Background(), w.Approval.ID, audit.ApprovalDenied, "cli:alice", "not now", time.Now()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	select {
	case <-w.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the queue did not see the decision made by another process")
	}
	if a := w.Wait(context.Background()); a.State != audit.ApprovalDenied || a.Reason != "not now" {
		t.Fatalf("got %+v", a)
	}
}

// brokenStore fails every write after creation.
type brokenStore struct{ audit.ApprovalStore }

func (brokenStore) DecideApproval(context.Context, string, string, string, string, time.Time) (audit.Approval, bool, error) {
	return audit.Approval{}, false, errors.New("disk gone")
}

func TestStoreFailureDenies(t *testing.T) {
	q, _ := newQueue(t)
	q.store = brokenStore{q.store}
	w, _ := q.Open(context.Background(), req(20*time.Millisecond))
	if a := w.Wait(context.Background()); a.State != audit.ApprovalDenied || a.Reason != "approval store unavailable" {
		t.Fatalf("got %+v", a)
	}
}

func TestShutdownAndRecover(t *testing.T) {
	q, path := newQueue(t)
	w, _ := q.Open(context.Background(), req(time.Minute))
	go q.Shutdown("gateway shutting down")
	if a := w.Wait(context.Background()); a.State != audit.ApprovalDenied || a.Reason != "gateway shutting down" {
		t.Fatalf("got %+v", a)
	}
	if _, err := q.Open(context.Background(), req(time.Minute)); err == nil {
		t.Fatal("a closed queue opened a wait")
	}
	// A gateway killed while waiting leaves a pending row; its next start
	// closes it.
	store, _ := audit.OpenSQLite(path)
	defer store.Close()
	killed := New(store, Options{Owner: "gw1"})
	if _, err := killed.Open(context.Background(), req(time.Minute)); err != nil {
		t.Fatal(err)
	}
	restarted := New(store, Options{Owner: "gw1"})
	closed, err := restarted.Recover(context.Background(), "gateway restarted")
	if err != nil || len(closed) != 1 || closed[0].Reason != "gateway restarted" || closed[0].State != audit.ApprovalDenied {
		t.Fatalf("recover = %+v, %v", closed, err)
	}
}

func TestVerdictOfADecidedApproval(t *testing.T) {
	cases := []struct {
		name, state, by string
		allowed         bool
		wantBy          string
	}{
		{"allowed in Slack", audit.ApprovalAllowed, "slack:U1", true, "slack:U1"},
		{"denied from the CLI", audit.ApprovalDenied, "cli:alice", false, "cli:alice"},
		{"timed out", audit.ApprovalTimedOut, "timeout", false, "timeout"},
		{"cancelled", audit.ApprovalCancelled, "agent", false, "error"},
		{"gateway shut down", audit.ApprovalDenied, "gateway", false, "error"},
		{"still pending", audit.ApprovalPending, "", false, "error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Verdict(audit.Approval{State: tc.state, DecidedBy: tc.by, Reason: "r"})
			if v.Allowed != tc.allowed || v.DecidedBy != tc.wantBy || v.Reason != "r" {
				t.Fatalf("verdict %+v", v)
			}
		})
	}
}

// slowCreate holds CreateApproval until released.
type slowCreate struct {
	audit.ApprovalStore
	entered, release chan struct{}
}

func (s slowCreate) CreateApproval(ctx context.Context, a *audit.Approval) error {
	close(s.entered)
	<-s.release
	return s.ApprovalStore.CreateApproval(ctx, a)
}

// A wait opened while the gateway shuts down is not left pending in the
// store (until the next start) under a misleading "store unavailable": it
// is closed as shut down.
func TestShutdownDuringOpenLeavesNothingPending(t *testing.T) {
	q, _ := newQueue(t)
	real := q.store
	slow := slowCreate{real, make(chan struct{}), make(chan struct{})}
	q.store = slow
	type opened struct {
		w   *Wait
		err error
	}
	out := make(chan opened, 1)
	go func() { w, err := q.Open(context.Background(), req(time.Minute)); out <- opened{w, err} }()
	<-slow.entered
	q.Shutdown("gateway shutting down")
	close(slow.release)
	o := <-out
	if o.err == nil {
		if a := o.w.Wait(context.Background()); a.State != audit.ApprovalDenied || a.Reason != "gateway shutting down" {
			t.Fatalf("wait ended %+v", a)
		}
	}
	list, err := real.ListApprovals(context.Background(), audit.ApprovalFilter{State: audit.ApprovalPending})
	if err != nil || len(list) != 0 {
		t.Fatalf("left pending: %+v %v", list, err)
	}
}
