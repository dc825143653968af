package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/dashboard"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/starlark/policytest"
)

const dashboardPolicy = `
ops = dashboard.approver(approvers = ["alice@example.com"], timeout = "1m")

def check(req):
    if req.method in ("GET", "HEAD"):
        return allow()
    return ops.ask(req, note = "write by " + req.agent.name)

http(name = "api", hosts = ["UPSTREAM"], inject = bearer(secrets.env("TOKEN")),
     ca = secrets.file("CA_FILE"), on_request = check)
`

func withDashboard(o *gateway.Options) {
	port := 0
	o.DashboardPort = &port
}

// browser is a logged-in dashboard client.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
	seen []string // every body received, to check that no secret shows
}

func openDashboard(t *testing.T, h *harness) *browser {
	t.Helper()
	u := h.gw.DashboardURL()
	if !strings.Contains(u, "?token=") {
		t.Fatalf("dashboard URL %q has no token", u)
	}
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: strings.SplitN(u, "/?", 2)[0], c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	page := b.get(u)
	const marker = `<meta name="csrf-token" content="`
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("no session after opening the printed URL: %s", page)
	}
	b.csrf = page[i+len(marker):]
	b.csrf = b.csrf[:strings.IndexByte(b.csrf, '"')]
	return b
}

func (b *browser) get(u string) string {
	b.t.Helper()
	if !strings.HasPrefix(u, "http") {
		u = b.base + u
	}
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		b.t.Fatalf("GET %s: %d %s", u, resp.StatusCode, data)
	}
	b.seen = append(b.seen, string(data))
	return string(data)
}

func (b *browser) decide(id, decision, reason string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+"/approvals/"+id, url.Values{"csrf": {b.csrf}, "decision": {decision}, "reason": {reason}})
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(data), "dashboard:local") {
		b.t.Fatalf("%s %s: %d %s", decision, id, resp.StatusCode, data)
	}
}

// pending waits until the dashboard lists n pending approvals.
func (b *browser) pending(n int) []map[string]any {
	b.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var list []map[string]any
		if err := json.Unmarshal([]byte(b.get("/api/approvals")), &list); err != nil {
			b.t.Fatal(err)
		}
		if len(list) == n {
			return list
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.t.Fatalf("the dashboard does not list %d pending approvals", n)
	return nil
}

func TestDashboardDecisionsReleaseHeldRequests(t *testing.T) {
	h := startWith(t, dashboardPolicy, withDashboard)
	b := openDashboard(t, h)

	approved := h.doAsync("POST", h.url("/repos/a/b/issues"), `{"title":"hi"}`)
	p := b.pending(1)[0]
	if p["summary"] != "POST https://"+h.up.HostPort()+"/repos/a/b/issues" || p["judge"] != "dashboard" || p["can_decide"] != true {
		t.Fatalf("pending = %v", p)
	}
	if n := len(h.up.Received()); n != 0 {
		t.Fatalf("the held request reached the upstream (%d requests)", n)
	}
	start := time.Now()
	b.decide(p["id"].(string), "approve", "ship it")
	select {
	case r := <-approved:
		if r.status != 200 {
			t.Fatalf("approved request: %d %s", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the approved request did not complete")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("release took %s", d)
	}
	if got := h.up.Received(); len(got) != 1 || got[0].Method != "POST" {
		t.Fatalf("upstream received %+v", got)
	}

	denied := h.doAsync("DELETE", h.url("/repos/a/b"), "")
	p = b.pending(1)[0]
	b.decide(p["id"].(string), "deny", "not on a Friday")
	r := <-denied
	if r.status != http.StatusForbidden || problem(t, r.body)["reason"] != "not on a Friday" {
		t.Fatalf("denied request: %d %s", r.status, r.body)
	}
	if n := len(h.up.Received()); n != 1 {
		t.Fatalf("the denied request reached the upstream")
	}

	recs := h.records()
	var rec audit.Record
	for _, x := range recs {
		if x.Summary == "POST https://"+h.up.HostPort()+"/repos/a/b/issues" {
			rec = x
		}
	}
	if rec.Verdict != audit.VerdictAllow || rec.DecidedBy != "dashboard:local" || rec.Reason != "ship it" || !strings.Contains(string(rec.Details), "approval_id") {
		t.Fatalf("audit record: %+v", rec)
	}
	page := b.get("/actions/" + rec.ID)
	for _, want := range []string{"dashboard:local", "ship it", "Download fixture", "approval_id"} {
		if !strings.Contains(page, want) {
			t.Errorf("action page lacks %q", want)
		}
	}
	fx := b.get("/actions/" + rec.ID + "/fixture")
	want, err := policytest.FromRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := want.Marshal()
	if fx != string(wantJSON) {
		t.Errorf("fixture:\n%s\nwant (ward fixture):\n%s", fx, wantJSON)
	}
	b.get("/status")
	b.get("/api/status")
	for _, body := range b.seen {
		if strings.Contains(body, canary) {
			t.Fatalf("the dashboard showed the injected secret: %s", body)
		}
	}
}

func TestDashboardShowsDecisionsMadeElsewhere(t *testing.T) {
	h := startWith(t, dashboardPolicy, withDashboard)
	b := openDashboard(t, h)
	held := h.doAsync("PUT", h.url("/repos/a/b"), "")
	p := b.pending(1)[0]
	id := p["id"].(string)
	// `ward deny` decides through the shared store from another process.
	store, err := audit.OpenSQLite(filepath.Join(h.dir, "state", "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, ok, err := store.DecideApproval(context.Background(), id, audit.ApprovalDenied, "cli:bob", "use the PR", time.Now()); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if r := <-held; r.status != http.StatusForbidden || problem(t, r.body)["reason"] != "use the PR" {
		t.Fatalf("held request: %d %s", r.status, r.body)
	}
	b.pending(0)
	page := b.get("/approvals/" + id)
	if !strings.Contains(page, "cli:bob") || strings.Contains(page, `id="approve"`) {
		t.Errorf("approval page: %s", page)
	}
	resp, err := b.c.PostForm(b.base+"/approvals/"+id, url.Values{"csrf": {b.csrf}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("a late approval: %d", resp.StatusCode)
	}
}

func TestDashboardStatusFollowsReloads(t *testing.T) {
	h := startWith(t, dashboardPolicy, withDashboard)
	b := openDashboard(t, h)
	var st dashboard.Status
	if err := json.Unmarshal([]byte(b.get("/api/status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Hash != h.gw.Engine().Snapshot().Policy.Hash || len(st.Endpoints) != 1 || st.Endpoints[0].Hooks[0].Function != "check" ||
		st.Endpoints[0].Inject != "bearer(<secret env:TOKEN>)" || st.LastError != "" || len(st.Judges) != 1 {
		t.Fatalf("status = %+v", st)
	}
	h.write("ward.star", "this is not starlark")
	if err := h.gw.Reload(context.Background()); err == nil {
		t.Fatal("a broken policy reloaded")
	}
	if err := json.Unmarshal([]byte(b.get("/api/status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.LastError == "" || st.LastAttempt.Before(st.Loaded) {
		t.Fatalf("status after a rejected reload = %+v", st)
	}
	if page := b.get("/status"); !strings.Contains(page, "rejected") {
		t.Error("the status page does not show the rejected reload")
	}
}

func TestDashboardApproverNeedsTheDashboard(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ward.star")
	if err := os.WriteFile(path, []byte("ops = dashboard.approver()\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := gateway.Start(context.Background(), gateway.Options{Config: path, StateDir: filepath.Join(dir, "state"),
		ProxyPort: new(int), LogHandler: discard(), WatchInterval: -1})
	if err == nil || !strings.Contains(err.Error(), "set gateway(dashboard_port = 8081)") {
		t.Fatalf("start: %v", err)
	}
}

func TestDashboardOnTheTailnetTakesNoToken(t *testing.T) {
	h := startWith(t, dashboardPolicy, func(o *gateway.Options) {
		withDashboard(o)
		o.DashboardPeer = func(c net.Conn) (dashboard.Identity, bool) {
			return dashboard.Identity{Login: "alice@example.com"}, strings.HasPrefix(c.RemoteAddr().String(), "127.")
		}
	})
	u := h.gw.DashboardURL()
	if strings.Contains(u, "token") {
		t.Fatalf("tailnet URL %q carries a token", u)
	}
	resp, err := http.Get(u + "api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("an identified approver: %d", resp.StatusCode)
	}
}

// TestDashboardFeedLatency measures how long after the agent's response an
// action reaches an open dashboard's event stream, and how long after a
// judge starts holding a request the dashboard lists it.
func TestDashboardFeedLatency(t *testing.T) {
	h := startWith(t, dashboardPolicy, withDashboard)
	b := openDashboard(t, h)
	req, _ := http.NewRequest("GET", b.base+"/events?after=0", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string, 100)
	go func() {
		buf := make([]byte, 64<<10)
		var pending string
		for {
			n, err := resp.Body.Read(buf)
			pending += string(buf[:n])
			for {
				i := strings.Index(pending, "\n\n")
				if i < 0 {
					break
				}
				events <- pending[:i]
				pending = pending[i+2:]
			}
			if err != nil {
				close(events)
				return
			}
		}
	}()
	wait := func(what string) time.Duration {
		start := time.Now()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("the event stream ended")
				}
				if strings.Contains(ev, what) {
					return time.Since(start)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no %q event", what)
			}
		}
	}
	var worst, total time.Duration
	const n = 20
	for i := range n {
		path := "/repos/a/b/" + strings.Repeat("x", i+1)
		if status, _, _ := h.do("GET", h.url(path), ""); status != 200 {
			t.Fatalf("GET: %d", status)
		}
		d := wait(path + `"`)
		total += d
		worst = max(worst, d)
	}
	t.Logf("action in the feed after the response: mean %s, worst %s (%d actions)", total/n, worst, n)
	if worst > 2*time.Second {
		t.Errorf("the feed lags by %s", worst)
	}
	held := h.doAsync("POST", h.url("/repos/a/b/held"), "")
	d := wait(`"summary":"POST https://` + h.up.HostPort() + `/repos/a/b/held"`)
	t.Logf("held request listed under pending approvals after %s", d)
	b.decide(b.pending(1)[0]["id"].(string), "deny", "")
	<-held
}
