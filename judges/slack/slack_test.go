package slack_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/judges/approval"
	"github.com/wardproject/ward/judges/judgestest"
	"github.com/wardproject/ward/judges/slack"
	"github.com/wardproject/ward/judges/slack/slackfake"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
)

const (
	ops     = "U0OPS"
	intern  = "U0INTERN"
	signing = "signing-secret-canary"
)

type env struct {
	t     *testing.T
	fake  *slackfake.Fake
	hub   *slack.Hub
	queue *approval.Queue
	store *audit.SQLiteStore
	path  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	store, err := audit.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{t: t, fake: slackfake.New(t), store: store, path: path}
	e.queue = approval.New(store, approval.Options{Owner: "gw", Poll: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	e.hub = slack.NewHub(e.queue, slog.New(slog.DiscardHandler))
	e.hub.APIURL, e.hub.HTTPClient = e.fake.APIURL(), e.fake.Client()
	t.Cleanup(func() { e.hub.Close() })
	return e
}

func (e *env) approver(socketMode bool, approvers ...string) *slack.Approver {
	cfg := slack.Config{Name: "slack:#agent-ops", Channel: "#agent-ops", BotToken: "xoxb-canary", Approvers: approvers, SigningSecret: signing}
	if socketMode {
		cfg.AppToken = "xapp-canary"
	}
	return e.hub.NewApprover(cfg)
}

func request(timeout time.Duration) judges.Request {
	return judges.Request{Action: &action.Action{ID: "a1", Protocol: "postgres", Endpoint: "prod",
		Agent: action.Agent{Name: "claude", User: "claude"}, Facts: judgestest.Facts{SQL: "DELETE FROM users WHERE id = 7", JSON: `{"sql":"DELETE FROM users WHERE id = 7","writes":true}`}}, Note: "write by claude", Timeout: timeout}
}

// ask runs Decide in the background.
func ask(ctx context.Context, a *slack.Approver, timeout time.Duration) <-chan judges.Outcome {
	out := make(chan judges.Outcome, 1)
	go func() { out <- a.Decide(ctx, request(timeout)) }()
	return out
}

func (e *env) pendingID() string {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		list, _ := e.store.ListApprovals(context.Background(), audit.ApprovalFilter{State: audit.ApprovalPending})
		if len(list) == 1 && len(e.fake.Calls("chat.postMessage")) > 0 && len(list[0].Ref) > 0 {
			return list[0].ID
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatal("no pending approval")
	return ""
}

func wait(t *testing.T, out <-chan judges.Outcome) judges.Outcome {
	t.Helper()
	select {
	case o := <-out:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("Decide did not return")
	}
	return judges.Outcome{}
}

func TestSocketModeApproval(t *testing.T) {
	e := newEnv(t)
	a := e.approver(true, ops)
	out := ask(context.Background(), a, time.Minute)
	id := e.pendingID()
	post := e.fake.Calls("chat.postMessage")[0]
	for _, want := range []string{"DELETE FROM users WHERE id = 7", "claude", "prod", "write by claude", `"action_id":"ward_approve"`, `"block_id":"ward_approval"`, id} {
		if !strings.Contains(post.Text(), want) {
			t.Errorf("posted message lacks %q:\n%s", want, post.Text())
		}
	}
	if post.Form.Get("channel") != "#agent-ops" {
		t.Errorf("posted to %q", post.Form.Get("channel"))
	}
	e.fake.Interactive(slackfake.ClickPayload(id, ops, true)) // returns once acknowledged
	o := wait(t, out)
	if !o.Verdict.Allowed || o.Verdict.DecidedBy != "slack:"+ops || o.Details["approval_id"] != id {
		t.Fatalf("outcome %+v", o)
	}
	upd := e.fake.WaitCalls("chat.update", 1)[0]
	if !strings.Contains(upd.Text(), "Approved") || !strings.Contains(upd.Text(), `\u003c@`+ops) || strings.Contains(upd.Text(), "ward_approve") {
		t.Errorf("updated message:\n%s", upd.Text())
	}
	stored, _ := e.store.GetApproval(context.Background(), id)
	if stored.State != audit.ApprovalAllowed || stored.DecidedBy != "slack:"+ops {
		t.Errorf("stored %+v", stored)
	}
}

func TestDenyClick(t *testing.T) {
	e := newEnv(t)
	out := ask(context.Background(), e.approver(true, ops), time.Minute)
	id := e.pendingID()
	e.fake.Interactive(slackfake.ClickPayload(id, ops, false))
	if o := wait(t, out); o.Verdict.Allowed || o.Verdict.DecidedBy != "slack:"+ops || !strings.Contains(o.Verdict.Reason, "denied in Slack") {
		t.Fatalf("outcome %+v", o)
	}
}

func TestApproverNotOnTheListKeepsWaiting(t *testing.T) {
	e := newEnv(t)
	out := ask(context.Background(), e.approver(true, ops), time.Minute)
	id := e.pendingID()
	e.fake.Interactive(slackfake.ClickPayload(id, intern, true))
	eph := e.fake.WaitCalls("chat.postEphemeral", 1)[0]
	if eph.Form.Get("user") != intern || !strings.Contains(eph.Text(), "not allowed") {
		t.Fatalf("ephemeral = %+v", eph)
	}
	select {
	case o := <-out:
		t.Fatalf("a non-approver decided: %+v", o)
	case <-time.After(100 * time.Millisecond):
	}
	e.fake.Interactive(slackfake.ClickPayload(id, ops, true))
	if o := wait(t, out); !o.Verdict.Allowed {
		t.Fatalf("outcome %+v", o)
	}
}

func TestUserGroupApprover(t *testing.T) {
	e := newEnv(t)
	e.fake.SetGroup("S0ONCALL", "U0ALICE")
	out := ask(context.Background(), e.approver(true, "S0ONCALL"), time.Minute)
	id := e.pendingID()
	e.fake.Interactive(slackfake.ClickPayload(id, intern, true))
	e.fake.WaitCalls("chat.postEphemeral", 1)
	e.fake.Interactive(slackfake.ClickPayload(id, "U0ALICE", true))
	if o := wait(t, out); !o.Verdict.Allowed || o.Verdict.DecidedBy != "slack:U0ALICE" {
		t.Fatalf("outcome %+v", o)
	}
}

func TestTimeoutDenies(t *testing.T) {
	e := newEnv(t)
	o := e.approver(true, ops).Decide(context.Background(), request(100*time.Millisecond))
	if o.Verdict.Allowed || o.Verdict.DecidedBy != "timeout" || !strings.Contains(o.Verdict.Reason, "no decision from slack:#agent-ops") {
		t.Fatalf("outcome %+v", o)
	}
	if upd := e.fake.WaitCalls("chat.update", 1)[0]; !strings.Contains(upd.Text(), "Timed out") {
		t.Errorf("update: %s", upd.Text())
	}
}

func TestAgentDisconnectCancelsTheWait(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := ask(ctx, e.approver(true, ops), time.Minute)
	id := e.pendingID()
	cancel()
	o := wait(t, out)
	if o.Verdict.Allowed || o.Verdict.Reason != "cancelled: the agent went away" {
		t.Fatalf("outcome %+v", o)
	}
	if upd := e.fake.WaitCalls("chat.update", 1)[0]; !strings.Contains(upd.Text(), "Cancelled") {
		t.Errorf("update: %s", upd.Text())
	}
	if a, _ := e.store.GetApproval(context.Background(), id); a.State != audit.ApprovalCancelled {
		t.Errorf("stored %+v", a)
	}
	// A late click changes nothing.
	e.fake.Interactive(slackfake.ClickPayload(id, ops, true))
	if a, _ := e.store.GetApproval(context.Background(), id); a.State != audit.ApprovalCancelled {
		t.Errorf("late click changed %+v", a)
	}
}

func TestSlackErrorDenies(t *testing.T) {
	e := newEnv(t)
	e.fake.FailPosts("channel_not_found")
	o := e.approver(true, ops).Decide(context.Background(), request(time.Minute))
	if o.Verdict.Allowed || o.Verdict.DecidedBy != "error" || !strings.Contains(o.Verdict.Reason, "channel_not_found") {
		t.Fatalf("outcome %+v", o)
	}
	list, _ := e.store.ListApprovals(context.Background(), audit.ApprovalFilter{})
	if len(list) != 1 || list[0].State != audit.ApprovalDenied {
		t.Fatalf("approvals %+v", list)
	}
}

func TestHTTPInteractivity(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(&slack.Interactivity{Hub: e.hub, Secrets: func() []string { return []string{"other-app-secret", signing} }})
	defer srv.Close()
	out := ask(context.Background(), e.approver(false, ops), time.Minute)
	id := e.pendingID()
	send := func(req *http.Request) int {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	click := slackfake.ClickPayload(id, ops, true)
	if code := send(slackfake.SignedRequest(srv.URL, click, "wrong-secret", time.Now())); code != http.StatusUnauthorized {
		t.Errorf("bad signature: %d", code)
	}
	if code := send(slackfake.SignedRequest(srv.URL, click, signing, time.Now().Add(-6*time.Minute))); code != http.StatusUnauthorized {
		t.Errorf("stale timestamp: %d", code)
	}
	tampered := slackfake.SignedRequest(srv.URL, click, signing, time.Now())
	tampered.Body = http.NoBody
	if code := send(tampered); code != http.StatusUnauthorized {
		t.Errorf("tampered body: %d", code)
	}
	badPayload := slackfake.SignedRequest(srv.URL, []byte("{not json"), signing, time.Now())
	if code := send(badPayload); code != http.StatusBadRequest {
		t.Errorf("bad payload: %d", code)
	}
	otherApproval := slackfake.SignedRequest(srv.URL, slackfake.ClickPayload("pNOTHERE", ops, true), signing, time.Now())
	if code := send(otherApproval); code != http.StatusOK {
		t.Errorf("click for an unknown approval: %d", code)
	}
	get, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if code := send(get); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", code)
	}
	time.Sleep(50 * time.Millisecond)
	if a, _ := e.store.GetApproval(context.Background(), id); !a.Pending() {
		t.Fatalf("a refused request decided: %+v", a)
	}
	if code := send(slackfake.SignedRequest(srv.URL, click, signing, time.Now())); code != http.StatusOK {
		t.Fatalf("valid request: %d", code)
	}
	if o := wait(t, out); !o.Verdict.Allowed || o.Verdict.DecidedBy != "slack:"+ops {
		t.Fatalf("outcome %+v", o)
	}
}

func TestDecisionFromTheCLIUpdatesTheMessage(t *testing.T) {
	e := newEnv(t)
	out := ask(context.Background(), e.approver(true, ops), time.Minute)
	id := e.pendingID()
	other, err := audit.OpenSQLite(e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, ok, err := other.DecideApproval(context.Background(), id, audit.ApprovalAllowed, "cli:alice", "", time.Now()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if o := wait(t, out); !o.Verdict.Allowed || o.Verdict.DecidedBy != "cli:alice" {
		t.Fatalf("outcome %+v", o)
	}
	if upd := e.fake.WaitCalls("chat.update", 1)[0]; !strings.Contains(upd.Text(), "Approved* by cli:alice") {
		t.Errorf("update: %s", upd.Text())
	}
}

func TestRestartUpdatesLeftoverMessages(t *testing.T) {
	e := newEnv(t)
	a := e.approver(true, ops)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ask(ctx, a, time.Minute)
	id := e.pendingID()
	// The gateway dies; the next one closes what it left.
	next := approval.New(e.store, approval.Options{Owner: "gw"})
	closed, err := next.Recover(context.Background(), "gateway restarted")
	if err != nil || len(closed) != 1 || closed[0].ID != id {
		t.Fatalf("recover %+v %v", closed, err)
	}
	hub := slack.NewHub(next, slog.New(slog.DiscardHandler))
	hub.APIURL, hub.HTTPClient = e.fake.APIURL(), e.fake.Client()
	defer hub.Close()
	hub.Recovered(context.Background(), closed, []*slack.Approver{hub.NewApprover(slack.Config{Name: "slack:#agent-ops", Channel: "#agent-ops", BotToken: "xoxb", SigningSecret: "s", Approvers: []string{ops}})})
	if upd := e.fake.WaitCalls("chat.update", 1)[0]; !strings.Contains(upd.Text(), "Gateway restarted — denied") {
		t.Errorf("update: %s", upd.Text())
	}
}

// The judge's timeout bounds the whole wait: a slow chat.postMessage
// does not stretch it, and updating the message afterwards does not hold
// the verdict back.
func TestSlowSlackDoesNotStretchTheWait(t *testing.T) {
	e := newEnv(t)
	e.fake.Delay("chat.postMessage", 3*time.Second)
	start := time.Now()
	o := e.approver(true, ops).Decide(context.Background(), request(300*time.Millisecond))
	if took := time.Since(start); o.Verdict.Allowed || took > 1500*time.Millisecond {
		t.Fatalf("outcome %+v after %s with a 300ms timeout", o.Verdict, took)
	}

	e = newEnv(t)
	e.fake.Delay("chat.update", 3*time.Second)
	out := ask(context.Background(), e.approver(true, ops), time.Minute)
	id := e.pendingID()
	e.fake.Interactive(slackfake.ClickPayload(id, ops, true))
	clicked := time.Now()
	if o := wait(t, out); !o.Verdict.Allowed || time.Since(clicked) > 1500*time.Millisecond {
		t.Fatalf("outcome %+v %s after the click (the message update held it back)", o.Verdict, time.Since(clicked))
	}
	if upd := e.fake.WaitCalls("chat.update", 1)[0]; !strings.Contains(upd.Text(), "Approved") {
		t.Errorf("update: %s", upd.Text())
	}
}
