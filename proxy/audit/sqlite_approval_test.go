package audit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wardproject/ward/protocols/action"
)

func newApproval(id, owner string) *Approval {
	now := time.Now()
	return &Approval{ID: id, ActionID: "a" + id, Owner: owner, Judge: "slack:#ops", Created: now, Expires: now.Add(time.Minute),
		Protocol: "http", Endpoint: "api", Agent: action.Agent{Name: "bot", User: "bot"}, Summary: "DELETE https://x/y",
		Note: "write by bot", Facts: []byte(`{"method":"DELETE"}`), State: ApprovalPending}
}

func TestApprovalLifecycle(t *testing.T) {
	s, path := newStore(t)
	ctx := context.Background()
	if err := s.CreateApproval(ctx, newApproval("p1", "gw1")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetApprovalRef(ctx, "p1", []byte(`{"channel":"C1","ts":"1.2"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetApproval(ctx, "p1")
	if err != nil || got.State != ApprovalPending || got.Agent.Name != "bot" || string(got.Ref) != `{"channel":"C1","ts":"1.2"}` || !got.Pending() {
		t.Fatalf("get = %+v, %v", got, err)
	}
	a, decided, err := s.DecideApproval(ctx, "p1", ApprovalAllowed, "cli:alice", "looks fine", time.Now())
	if err != nil || !decided || a.State != ApprovalAllowed || a.DecidedBy != "cli:alice" || a.Decided.IsZero() {
		t.Fatalf("decide = %+v, %v, %v", a, decided, err)
	}
	// A second decision loses and sees the first.
	a, decided, err = s.DecideApproval(ctx, "p1", ApprovalDenied, "slack:U1", "", time.Now())
	if err != nil || decided || a.State != ApprovalAllowed || a.DecidedBy != "cli:alice" {
		t.Fatalf("second decide = %+v, %v, %v", a, decided, err)
	}
	if _, _, err := s.DecideApproval(ctx, "nope", ApprovalDenied, "x", "", time.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown approval: %v", err)
	}
	if _, _, err := s.DecideApproval(ctx, "p1", ApprovalPending, "x", "", time.Now()); err == nil {
		t.Fatal("deciding into pending should fail")
	}
	// Another process reads the same queue.
	ro, err := OpenSQLiteReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	list, err := ro.ListApprovals(ctx, ApprovalFilter{})
	if err != nil || len(list) != 1 || list[0].State != ApprovalAllowed {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := ro.CreateApproval(ctx, newApproval("p2", "gw1")); err == nil {
		t.Fatal("read-only store accepted a write")
	}
}

func TestDecideApprovalRaceHasOneWinner(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if err := s.CreateApproval(ctx, newApproval("p1", "gw1")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := ApprovalAllowed
			if i%2 == 1 {
				state = ApprovalDenied
			}
			_, ok, err := s.DecideApproval(ctx, "p1", state, "x", "", time.Now())
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d decisions won, want 1", wins)
	}
}

func TestCloseOwnerPendingOnlyClosesThatGatewaysWaits(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for _, a := range []*Approval{newApproval("p1", "gw1"), newApproval("p2", "gw1"), newApproval("p3", "gw2")} {
		if err := s.CreateApproval(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.DecideApproval(ctx, "p2", ApprovalAllowed, "cli:bob", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	closed, err := s.CloseOwnerPending(ctx, "gw1", ApprovalDenied, "gateway", "gateway restarted", time.Now())
	if err != nil || len(closed) != 1 || closed[0].ID != "p1" || closed[0].Reason != "gateway restarted" {
		t.Fatalf("closed = %+v, %v", closed, err)
	}
	pending, _ := s.ListApprovals(ctx, ApprovalFilter{State: ApprovalPending})
	if len(pending) != 1 || pending[0].ID != "p3" {
		t.Fatalf("pending = %+v", pending)
	}
}
