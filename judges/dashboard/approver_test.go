package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/judges/approval"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
)

type facts struct{}

func (facts) String() string                      { return "facts" }
func (facts) Type() string                        { return "facts" }
func (facts) Freeze()                             {}
func (facts) Truth() starlark.Bool                { return true }
func (facts) Hash() (uint32, error)               { return 0, fmt.Errorf("unhashable") }
func (facts) Attr(string) (starlark.Value, error) { return nil, nil }
func (facts) AttrNames() []string                 { return nil }
func (facts) Summary() string                     { return "DELETE /repos/a/b" }
func (facts) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"method": "DELETE"})
}

func newQueue(t *testing.T) (*approval.Queue, *audit.SQLiteStore) {
	store, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	q := approval.New(store, approval.Options{Owner: "gw1", Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		q.Shutdown("test over")
		time.Sleep(30 * time.Millisecond) // the queue's poller ends on its next tick
		store.Close()
	})
	return q, store
}

func request(timeout time.Duration) judges.Request {
	return judges.Request{Action: &action.Action{ID: action.NewID(), Protocol: "http", Endpoint: "api",
		Agent: action.Agent{Name: "bot"}, Facts: facts{}}, Note: "write by bot", Timeout: timeout}
}

// decideWhenOpen decides the first pending approval once it appears.
func decideWhenOpen(t *testing.T, q *approval.Queue, store *audit.SQLiteStore, state, by, reason string) {
	go func() {
		for range 500 {
			list, _ := store.ListApprovals(context.Background(), audit.ApprovalFilter{State: audit.ApprovalPending})
			if len(list) == 1 {
				if _, _, err := q.Decide(list[0].ID, state, by, reason); err != nil {
					t.Error(err)
				}
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Error("no pending approval")
	}()
}

func TestDecisions(t *testing.T) {
	tests := []struct {
		name, state, by, reason string
		allowed                 bool
		wantBy                  string
	}{
		{"approved in the dashboard", audit.ApprovalAllowed, "dashboard:alice@example.com", "ship it", true, "dashboard:alice@example.com"},
		{"denied in the dashboard", audit.ApprovalDenied, "dashboard:local", "not today", false, "dashboard:local"},
		{"denied with ward deny", audit.ApprovalDenied, "cli:bob", "use the PR", false, "cli:bob"},
		{"denied by the gateway shutting down", audit.ApprovalDenied, "gateway", "gateway shutting down", false, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, store := newQueue(t)
			a := New(q, "dashboard:dba")
			opened := make(chan struct{}, 1)
			a.Opened = func() { opened <- struct{}{} }
			decideWhenOpen(t, q, store, tt.state, tt.by, tt.reason)
			out := a.Decide(context.Background(), request(time.Minute))
			v := out.Verdict
			if v.Allowed != tt.allowed || v.DecidedBy != tt.wantBy || v.Reason != tt.reason {
				t.Errorf("verdict = %+v", v)
			}
			if out.Details["state"] != tt.state || out.Details["approval_id"] == "" {
				t.Errorf("details = %v", out.Details)
			}
			select {
			case <-opened:
			default:
				t.Error("Opened was not called")
			}
			stored, _ := store.ListApprovals(context.Background(), audit.ApprovalFilter{})
			if len(stored) != 1 || stored[0].Judge != "dashboard:dba" || stored[0].Note != "write by bot" || stored[0].Summary != "DELETE /repos/a/b" {
				t.Errorf("stored = %+v", stored)
			}
		})
	}
}

func TestTimeoutAndCancellationDeny(t *testing.T) {
	q, _ := newQueue(t)
	a := New(q, "dashboard")
	start := time.Now()
	v := a.Decide(context.Background(), request(50*time.Millisecond)).Verdict
	if v.Allowed || v.DecidedBy != "timeout" || time.Since(start) > 2*time.Second {
		t.Errorf("timeout verdict = %+v after %s", v, time.Since(start))
	}
	req := request(50 * time.Millisecond)
	req.TimeoutReason = "held past max_hold_in_transaction (1s)"
	if v := a.Decide(context.Background(), req).Verdict; v.DecidedBy != "timeout" || v.Reason != req.TimeoutReason {
		t.Errorf("timeout verdict with a reason = %+v", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	v = a.Decide(ctx, request(time.Minute)).Verdict
	if v.Allowed || v.DecidedBy != "error" || v.Reason != "cancelled: the agent went away" {
		t.Errorf("cancelled verdict = %+v", v)
	}
}

func TestQueueUnavailableDenies(t *testing.T) {
	q, _ := newQueue(t)
	q.Shutdown("going away")
	v := New(q, "dashboard").Decide(context.Background(), request(time.Minute)).Verdict
	if v.Allowed || v.DecidedBy != "error" {
		t.Errorf("verdict = %+v", v)
	}
}
