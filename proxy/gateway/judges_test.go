package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/judges/slack/slackfake"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
)

const slackPolicy = `
ops = slack.approver(channel = "#agent-ops", bot_token = secrets.env("SLACK_BOT"),
                     app_token = secrets.env("SLACK_APP"), approvers = ["U0OPS"], timeout = "20s")

def check(req):
    if req.method in ("GET", "HEAD"):
        return allow("reads are fine")
    return ops.ask(req, note = "write by " + req.agent.name)

http(name = "api", hosts = ["UPSTREAM"], inject = bearer(secrets.env("TOKEN")),
     ca = secrets.file("CA_FILE"), on_request = check)
`

// slackCanaries are the Slack tokens; they must never show up anywhere.
var slackCanaries = map[string]string{"TOKEN": canary, "SLACK_BOT": "xoxb-canary-bot-51f2", "SLACK_APP": "xapp-canary-app-77c1"}

func withSlack(fake *slackfake.Fake) func(*gateway.Options) {
	return func(o *gateway.Options) {
		o.SlackAPIURL, o.JudgeHTTPClient = fake.APIURL(), fake.Client()
		o.Resolver = builtins.Resolver{LookupEnv: func(name string) (string, bool) { v, ok := slackCanaries[name]; return v, ok }}
	}
}

// pendingApproval waits for the gateway to post an approval request and
// returns the approval's ID from the shared store.
func (h *harness) pendingApproval(fake *slackfake.Fake) audit.Approval {
	h.t.Helper()
	fake.WaitCalls("chat.postMessage", 1)
	store, err := audit.OpenSQLiteReadOnly(filepath.Join(h.dir, "state", "audit.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		list, err := store.ListApprovals(context.Background(), audit.ApprovalFilter{State: audit.ApprovalPending})
		if err == nil && len(list) == 1 {
			return list[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatal("no pending approval")
	return audit.Approval{}
}

type response struct {
	status int
	body   string
}

// doAsync sends a request in the background; a transport error gives
// status 0 and the error as body (never t.Fatal off the test goroutine).
func (h *harness) doAsync(method, target, body string) <-chan response {
	out := make(chan response, 1)
	go func() {
		req, err := http.NewRequest(method, target, strings.NewReader(body))
		if err != nil {
			out <- response{0, err.Error()}
			return
		}
		resp, err := h.client.Do(req)
		if err != nil {
			out <- response{0, err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- response{resp.StatusCode, string(b)}
	}()
	return out
}

func TestSlackApprovalHoldsTheRequestUntilClicked(t *testing.T) {
	fake := slackfake.New(t)
	h := startWith(t, slackPolicy, withSlack(fake))
	got := h.doAsync("POST", h.url("/repos/a/b/issues"), `{"title":"hi"}`)
	a := h.pendingApproval(fake)
	if a.Summary != "POST "+h.url("/repos/a/b/issues") || a.Note != "write by local" || a.Endpoint != "api" {
		t.Errorf("approval %+v", a)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(h.up.Received()); n != 0 {
		t.Fatalf("upstream saw %d requests before the click", n)
	}
	// Reads are not held meanwhile.
	if status, _, _ := h.do("GET", h.url("/repos/a/b"), ""); status != 200 {
		t.Fatalf("GET while a write waits: %d", status)
	}
	fake.Interactive(slackfake.ClickPayload(a.ID, "U0OPS", true))
	r := <-got
	if r.status != 200 {
		t.Fatalf("after approval: %d %s", r.status, r.body)
	}
	recv := h.up.Received()
	if len(recv) != 2 || recv[1].Method != "POST" || recv[1].Header.Get("Authorization") != "Bearer "+canary || recv[1].Body != `{"title":"hi"}` {
		t.Fatalf("upstream saw %+v", recv)
	}
	var rec audit.Record
	for _, r := range h.records() {
		if r.Summary == a.Summary {
			rec = r
		}
	}
	if rec.Verdict != audit.VerdictAllow || rec.DecidedBy != "slack:U0OPS" || rec.JudgeMicros <= 0 || !rec.Completed {
		t.Fatalf("audit record %+v", rec)
	}
	var details struct {
		Judges []struct {
			Judge     string         `json:"judge"`
			Allowed   bool           `json:"allowed"`
			DecidedBy string         `json:"decided_by"`
			Details   map[string]any `json:"details"`
		} `json:"judges"`
	}
	if err := json.Unmarshal(rec.Details, &details); err != nil || len(details.Judges) != 1 ||
		details.Judges[0].Judge != "slack:#agent-ops" || details.Judges[0].Details["approval_id"] != a.ID {
		t.Fatalf("details %s (%v)", rec.Details, err)
	}
	upd := fake.WaitCalls("chat.update", 1)[0]
	if !strings.Contains(upd.Text(), "Approved") {
		t.Errorf("message not updated: %s", upd.Text())
	}
	h.close()
	for name, secret := range slackCanaries {
		for _, c := range fake.Calls("") {
			if strings.Contains(c.Text(), secret) {
				t.Errorf("Slack message %s leaks %s", c.Method, name)
			}
		}
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("log leaks %s", name)
		}
	}
}

func TestSlackDenialReachesTheAgent(t *testing.T) {
	fake := slackfake.New(t)
	h := startWith(t, slackPolicy, withSlack(fake))
	got := h.doAsync("DELETE", h.url("/repos/a/b"), "")
	a := h.pendingApproval(fake)
	fake.Interactive(slackfake.ClickPayload(a.ID, "U0OPS", false))
	r := <-got
	if r.status != http.StatusForbidden || !strings.Contains(problem(t, r.body)["reason"], "denied in Slack by @u0ops") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n := len(h.up.Received()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

func TestAgentDisconnectCancelsTheApproval(t *testing.T) {
	fake := slackfake.New(t)
	h := startWith(t, slackPolicy, withSlack(fake))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "DELETE", h.url("/repos/a/b"), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := h.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	a := h.pendingApproval(fake)
	cancel()
	<-done
	upd := fake.WaitCalls("chat.update", 1)[0]
	if !strings.Contains(upd.Text(), "Cancelled") {
		t.Errorf("update: %s", upd.Text())
	}
	store, _ := audit.OpenSQLiteReadOnly(filepath.Join(h.dir, "state", "audit.db"))
	defer store.Close()
	if got, _ := store.GetApproval(context.Background(), a.ID); got.State != audit.ApprovalCancelled {
		t.Errorf("approval %+v", got)
	}
	if n := len(h.up.Received()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

func TestRestartDeniesLeftoverApprovals(t *testing.T) {
	fake := slackfake.New(t)
	h := startWith(t, slackPolicy, withSlack(fake))
	got := h.doAsync("DELETE", h.url("/repos/a/b"), "")
	a := h.pendingApproval(fake)
	// A clean shutdown denies what waits.
	h.close()
	if r := <-got; r.status != http.StatusForbidden || !strings.Contains(r.body, "gateway shutting down") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	store, _ := audit.OpenSQLiteReadOnly(filepath.Join(h.dir, "state", "audit.db"))
	defer store.Close()
	if got, _ := store.GetApproval(context.Background(), a.ID); got.State != audit.ApprovalDenied || got.Reason != "gateway shutting down" {
		t.Errorf("approval %+v", got)
	}
}

func TestRestartAfterAKillDeniesAndUpdatesSlack(t *testing.T) {
	fake := slackfake.New(t)
	h := startWith(t, slackPolicy, withSlack(fake))
	h.close()
	// A gateway killed while waiting leaves a pending row behind.
	journalID, err := os.ReadFile(filepath.Join(h.dir, "state", "journal", "id"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := audit.OpenSQLite(filepath.Join(h.dir, "state", "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	left := &audit.Approval{ID: "pleftover", ActionID: "a1", Owner: strings.TrimSpace(string(journalID)), Judge: "slack:#agent-ops",
		Created: now, Expires: now.Add(time.Hour), Protocol: "http", Endpoint: "api", Summary: "DELETE https://x/y",
		State: audit.ApprovalPending, Ref: json.RawMessage(`{"channel":"C0AGENTOPS","ts":"1700000000.000100"}`)}
	other := *left
	other.ID, other.Owner, other.Ref = "pother", "another-gateway", nil
	for _, a := range []*audit.Approval{left, &other} {
		if err := store.CreateApproval(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()

	port := 0
	opts := gateway.Options{Config: filepath.Join(h.dir, "ward.star"), StateDir: filepath.Join(h.dir, "state"),
		ProxyPort: &port, LogHandler: discard(), WatchInterval: -1}
	withSlack(fake)(&opts)
	gw, err := gateway.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close(context.Background())
	upd := fake.WaitCalls("chat.update", 1)[0]
	if upd.Form.Get("ts") != "1700000000.000100" || !strings.Contains(upd.Text(), "Gateway restarted — denied") {
		t.Fatalf("update %+v", upd)
	}
	ro, _ := audit.OpenSQLiteReadOnly(filepath.Join(h.dir, "state", "audit.db"))
	defer ro.Close()
	if a, _ := ro.GetApproval(context.Background(), "pleftover"); a.State != audit.ApprovalDenied || a.Reason != "gateway restarted" {
		t.Errorf("leftover %+v", a)
	}
	if a, _ := ro.GetApproval(context.Background(), "pother"); a.State != audit.ApprovalPending {
		t.Errorf("another gateway's approval was closed: %+v", a)
	}
}
