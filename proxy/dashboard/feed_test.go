package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policytest"
)

type actionsPage struct {
	Actions []row `json:"actions"`
	More    bool  `json:"more"`
}

func (e *env) page(c *http.Client, query string) actionsPage {
	e.t.Helper()
	resp := e.do(c, "GET", "/api/actions?"+query, nil)
	if resp.status != 200 {
		e.t.Fatalf("/api/actions?%s: %d %s", query, resp.status, resp.body)
	}
	var p actionsPage
	if err := json.Unmarshal([]byte(resp.body), &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func TestActionsPagingAndFilters(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login()
	for i := range 120 {
		agent, ep, verdict := "alpha", "github", audit.VerdictAllow
		if i%3 == 0 {
			agent = "beta"
		}
		if i%4 == 0 {
			ep = "prod"
		}
		if i%5 == 0 {
			verdict = audit.VerdictDeny
		}
		e.journal.Append(&audit.Record{ID: fmt.Sprintf("a%03d", i), Time: time.Now(), Protocol: "http", Endpoint: ep,
			Agent: action.Agent{Name: agent}, Summary: fmt.Sprintf("GET /%d", i), Verdict: verdict, DecidedBy: "policy", PolicyMicros: 40, JudgeMicros: 2})
	}
	if err := e.journal.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := e.page(c, "")
	if len(first.Actions) != 50 || !first.More || first.Actions[0].ID != "a119" || first.Actions[49].ID != "a070" {
		t.Fatalf("first page: %d more=%v %s…%s", len(first.Actions), first.More, first.Actions[0].ID, first.Actions[len(first.Actions)-1].ID)
	}
	if first.Actions[0].LatencyMicros != 42 || first.Actions[0].Summary != "GET /119" {
		t.Errorf("row = %+v", first.Actions[0])
	}
	var all []row
	before := int64(0)
	for {
		q := "limit=40"
		if before > 0 {
			q += fmt.Sprintf("&before=%d", before)
		}
		p := e.page(c, q)
		all = append(all, p.Actions...)
		if len(p.Actions) > 0 {
			before = p.Actions[len(p.Actions)-1].Seq
		}
		if !p.More || len(all) > 200 {
			break
		}
	}
	if len(all) != 120 || all[0].ID != "a119" || all[119].ID != "a000" {
		t.Fatalf("paging back gave %d rows", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq >= all[i-1].Seq {
			t.Fatalf("not newest first at %d", i)
		}
	}
	filtered := e.page(c, "agent=beta&endpoint=prod&verdict=deny&limit=500")
	for _, r := range filtered.Actions {
		if r.Agent != "beta" || r.Endpoint != "prod" || r.Verdict != "deny" {
			t.Errorf("filter let through %+v", r)
		}
	}
	if len(filtered.Actions) != 2 { // i in {0, 60}
		t.Errorf("filtered: %d rows", len(filtered.Actions))
	}
	for _, q := range []string{"verdict=maybe", "limit=0", "limit=501", "limit=x", "before=-1", "before=x"} {
		if resp := e.do(c, "GET", "/api/actions?"+q, nil); resp.status != http.StatusBadRequest || !strings.Contains(resp.body, `"error"`) {
			t.Errorf("%s: %d %s", q, resp.status, resp.body)
		}
	}
}

func TestActionPageAndFixture(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login()
	details, _ := json.Marshal(map[string]any{"judges": []map[string]any{{"judge": "llm:gpt-4.1-mini", "allowed": false,
		"reason": "projects users.email", "decided_by": "llm:gpt-4.1-mini", "latency_us": 812000,
		"details": map[string]any{"model": "gpt-4.1-mini", "tokens": 312}}}})
	rec := e.record(audit.Record{Endpoint: "github", Agent: action.Agent{Name: "bot", User: "bot"},
		Summary: `POST https://api.github.com/repos/a/b/issues <script>alert(1)</script>`,
		Facts:   json.RawMessage(`{"method":"POST","path":"/repos/a/b/issues"}`),
		Raw:     json.RawMessage(`{"method":"POST","url":"https://api.github.com/repos/a/b/issues"}`),
		Verdict: audit.VerdictDeny, Reason: "projects users.email", DecidedBy: "llm:gpt-4.1-mini",
		PolicyMicros: 120, JudgeMicros: 812000, Details: details})
	resp := e.do(c, "GET", "/actions/"+rec.ID, nil)
	if resp.status != 200 {
		t.Fatalf("page: %d %s", resp.status, resp.body)
	}
	for _, want := range []string{"projects users.email", "llm:gpt-4.1-mini", "812.0ms", "120µs", `&#34;method&#34;: &#34;POST&#34;`,
		"tokens:", `id="download-fixture"`, "&lt;script&gt;", "not forwarded"} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(resp.body, "<script>alert") {
		t.Error("the summary is not escaped")
	}

	fx := e.do(c, "GET", "/actions/"+rec.ID+"/fixture", nil)
	want, err := policytest.FromRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := want.Marshal()
	if fx.status != 200 || fx.body != string(wantJSON) {
		t.Fatalf("fixture: %d\n%s\nwant\n%s", fx.status, fx.body, wantJSON)
	}
	if cd := fx.header.Get("Content-Disposition"); cd != `attachment; filename="`+rec.ID+`.fixture.json"` {
		t.Errorf("Content-Disposition = %q", cd)
	}

	api := e.do(c, "GET", "/api/actions/"+rec.ID, nil)
	var got audit.Record
	if err := json.Unmarshal([]byte(api.body), &got); err != nil || got.ID != rec.ID || got.Reason != rec.Reason {
		t.Errorf("api: %v %s", err, api.body)
	}

	refused := e.record(audit.Record{Summary: "GET https://undeclared.example/", Verdict: audit.VerdictRefused, Reason: "not declared", DecidedBy: "gateway"})
	if resp := e.do(c, "GET", "/actions/"+refused.ID, nil); !strings.Contains(resp.body, `id="no-fixture"`) {
		t.Errorf("refused action page: %s", resp.body)
	}
	if resp := e.do(c, "GET", "/actions/"+refused.ID+"/fixture", nil); resp.status != http.StatusConflict || !strings.Contains(resp.body, "only decided actions make fixtures") {
		t.Errorf("refused fixture: %d %s", resp.status, resp.body)
	}
	for _, path := range []string{"/actions/nope", "/actions/nope/fixture", "/api/actions/nope"} {
		if resp := e.do(c, "GET", path, nil); resp.status != http.StatusNotFound {
			t.Errorf("%s: %d", path, resp.status)
		}
	}
}

func TestStatusPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login()
	resp := e.do(c, "GET", "/status", nil)
	for _, want := range []string{"/p/ward.star", "abc123", "github", "api.github.com", "on_request", "check", "ward.star:3:1",
		"bearer(&lt;secret env:GITHUB_TOKEN&gt;)", "rejected", "test_x: boom", "1m0s"} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	api := e.do(c, "GET", "/api/status", nil)
	var st Status
	if err := json.Unmarshal([]byte(api.body), &st); err != nil || st.Hash != "abc123" || st.LastError == "" || len(st.Endpoints) != 1 {
		t.Errorf("api: %v %s", err, api.body)
	}
	e.status.LastError = ""
	if resp := e.do(c, "GET", "/status", nil); strings.Contains(resp.body, "rejected") {
		t.Error("a good reload shows as rejected")
	}
}

func TestEventsStreamLiveActions(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login()
	old := e.record(audit.Record{Endpoint: "github", Agent: action.Agent{Name: "bot"}, Summary: "GET /old", Verdict: audit.VerdictAllow})

	s := e.stream(c, "/events?endpoint=github")
	ev, err := s.next(t, 2*time.Second)
	if err != nil || ev.name != "approvals" || ev.data != "[]" {
		t.Fatalf("first event: %+v %v", ev, err)
	}
	e.record(audit.Record{Endpoint: "other", Agent: action.Agent{Name: "bot"}, Summary: "GET /filtered-out", Verdict: audit.VerdictAllow})
	live := e.record(audit.Record{Endpoint: "github", Agent: action.Agent{Name: "bot"}, Summary: "DELETE /live", Verdict: audit.VerdictDeny, Reason: "no"})
	ev, err = s.next(t, 2*time.Second)
	if err != nil || ev.name != "action" || ev.id != fmt.Sprint(live.Seq) {
		t.Fatalf("live event: %+v %v", ev, err)
	}
	var r row
	if err := json.Unmarshal([]byte(ev.data), &r); err != nil || r.Summary != "DELETE /live" || r.Verdict != "deny" || r.Reason != "no" {
		t.Fatalf("row: %+v %v", r, err)
	}

	// A reconnecting browser resumes after Last-Event-ID, from the store.
	resumed := e.stream(c, "/events", "Last-Event-ID", fmt.Sprint(old.Seq))
	var names []string
	for range 3 {
		ev, err := resumed.next(t, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ev.name == "action" {
			var r row
			json.Unmarshal([]byte(ev.data), &r)
			names = append(names, r.Summary)
		}
	}
	if strings.Join(names, ",") != "GET /filtered-out,DELETE /live" {
		t.Errorf("replayed %v", names)
	}

	// The pending approvals arrive as they change.
	a, _ := e.hold("dashboard", "POST /held")
	e.srv.Poke()
	for {
		ev, err := s.next(t, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ev.name != "approvals" {
			continue
		}
		var list []pendingView
		json.Unmarshal([]byte(ev.data), &list)
		if len(list) != 1 || list[0].ID != a.ID || list[0].Summary != "POST /held" || !list[0].CanDecide || list[0].Note != "write by bot" {
			t.Fatalf("approvals: %s", ev.data)
		}
		break
	}
	for _, q := range []string{"verdict=nope", "after=x"} {
		if resp := e.do(c, "GET", "/events?"+q, nil); resp.status != http.StatusBadRequest {
			t.Errorf("%s: %d", q, resp.status)
		}
	}
}

func TestShutdownEndsEventStreams(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login()
	s := e.stream(c, "/events")
	if _, err := s.next(t, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open stream: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("shutdown took %s", time.Since(start))
	}
}

func TestDecisionsRaceOtherDeciders(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login()
	a, decided := e.hold("slack:#ops", "DELETE /repos/a/b")
	// `ward deny` from another process decides first.
	if _, ok, err := e.store.DecideApproval(t.Context(), a.ID, audit.ApprovalDenied, "cli:bob", "not today", time.Now()); err != nil || !ok {
		t.Fatal(ok, err)
	}
	resp := e.do(c, "POST", "/approvals/"+a.ID, url.Values{"csrf": {e.csrf(c)}, "decision": {"approve"}})
	if resp.status != http.StatusConflict || !strings.Contains(resp.body, "already decided: denied by cli:bob (not today)") {
		t.Fatalf("late approve: %d %s", resp.status, resp.body)
	}
	got := <-decided
	if got.State != audit.ApprovalDenied || got.DecidedBy != "cli:bob" {
		t.Fatalf("the waiter got %+v", got)
	}
	page := e.do(c, "GET", "/approvals/"+a.ID, nil)
	if !strings.Contains(page.body, "cli:bob") || !strings.Contains(page.body, "not today") || strings.Contains(page.body, `id="approve"`) {
		t.Errorf("the page does not show the outcome: %s", page.body)
	}
	// The local operator may decide approvals of any judge, as with `ward approve`.
	b, decidedB := e.hold("slack:#ops", "DELETE /repos/a/c")
	resp = e.do(c, "POST", "/approvals/"+b.ID, url.Values{"csrf": {e.csrf(c)}, "decision": {"deny"}})
	if resp.status != http.StatusSeeOther {
		t.Fatalf("deny: %d %s", resp.status, resp.body)
	}
	if got := <-decidedB; got.DecidedBy != "dashboard:local" || got.Reason != "denied by local in the dashboard" {
		t.Errorf("the waiter got %+v", got)
	}
	if resp := e.do(c, "GET", "/approvals/nope", nil); resp.status != http.StatusNotFound {
		t.Errorf("unknown approval: %d", resp.status)
	}
}

func TestSecretsAreMaskedEverywhere(t *testing.T) {
	const canary = "canary-dash-93be1f"
	e := newEnv(t, envOptions{mask: func(s string) string { return strings.ReplaceAll(s, canary, "[redacted]") }})
	c := e.login()
	rec := e.record(audit.Record{Endpoint: "github", Agent: action.Agent{Name: "bot"}, Summary: "GET /" + canary,
		Facts: json.RawMessage(`{"path":"/` + canary + `"}`), Raw: json.RawMessage(`{"url":"https://x/` + canary + `"}`),
		Verdict: audit.VerdictDeny, Reason: "saw " + canary, DecidedBy: "policy"})
	a, _ := e.hold("dashboard", "POST /"+canary)
	e.status.LastError = "reload failed near " + canary
	s := e.stream(c, "/events?after=0")
	var streamed []string
	for range 2 {
		ev, err := s.next(t, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, ev.data)
	}
	bodies := append(streamed,
		e.do(c, "GET", "/api/actions", nil).body, e.do(c, "GET", "/api/actions/"+rec.ID, nil).body,
		e.do(c, "GET", "/actions/"+rec.ID, nil).body, e.do(c, "GET", "/actions/"+rec.ID+"/fixture", nil).body,
		e.do(c, "GET", "/api/approvals", nil).body, e.do(c, "GET", "/approvals/"+a.ID, nil).body,
		e.do(c, "GET", "/api/approvals/"+a.ID, nil).body, e.do(c, "GET", "/status", nil).body,
		e.do(c, "GET", "/api/status", nil).body)
	for i, b := range bodies {
		if strings.Contains(b, canary) {
			t.Errorf("response %d shows the secret: %s", i, b)
		}
		if !strings.Contains(b, "[redacted]") {
			t.Errorf("response %d: no masked secret in %s", i, b)
		}
	}
}

func TestEventsResetWhenTooMuchWasMissed(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login()
	for i := range maxReplay + 5 {
		e.journal.Append(&audit.Record{ID: fmt.Sprintf("a%05d", i), Time: time.Now(), Protocol: "http", Endpoint: "github",
			Summary: fmt.Sprintf("GET /%d", i), Verdict: audit.VerdictAllow})
	}
	if err := e.journal.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := e.stream(c, "/events?after=0")
	ev, err := s.next(t, 2*time.Second)
	if err != nil || ev.name != "reset" {
		t.Fatalf("first event: %+v %v", ev, err)
	}
	if ev, err = s.next(t, 2*time.Second); err != nil || ev.name != "approvals" {
		t.Fatalf("second event: %+v %v", ev, err)
	}
	live := e.record(audit.Record{Endpoint: "github", Summary: "GET /after-reset", Verdict: audit.VerdictAllow})
	if ev, err = s.next(t, 2*time.Second); err != nil || ev.id != fmt.Sprint(live.Seq) {
		t.Fatalf("after the reset: %+v %v", ev, err)
	}
	// Within the limit, a resume replays every missed action in order.
	s = e.stream(c, "/events", "Last-Event-ID", fmt.Sprint(live.Seq-3))
	var ids []string
	for len(ids) < 3 {
		ev, err := s.next(t, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ev.name == "action" {
			ids = append(ids, ev.id)
		}
	}
	if want := fmt.Sprintf("%d,%d,%d", live.Seq-2, live.Seq-1, live.Seq); strings.Join(ids, ",") != want {
		t.Errorf("replayed %v, want %s", ids, want)
	}
}
