package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tailscale.com/tsnet"

	"github.com/wardproject/ward/protocols/httpproxy/httpproxytest"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/gateway/gatewaytest"
	"github.com/wardproject/ward/proxy/tailnet"
)

const tailnetDashboardPolicy = `
tailnet(hostname = "ward", control_url = "CONTROL", ephemeral = True, tags = ["tag:ward"])
gateway(proxy_port = 8080, dashboard_port = 8081, dashboard_viewers = ["VIEWER"])
ops = dashboard.approver(approvers = ["tag:ops"], timeout = "1m")

def check(req):
    if req.method in ("GET", "HEAD"):
        return allow()
    return ops.ask(req, note = "write by " + req.agent.name)

http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"), on_request = check)
`

// dashboardClient is a browser on a tailnet node.
type dashboardClient struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newDashboardClient(t *testing.T, node *tsnet.Server, base string) *dashboardClient {
	jar, _ := cookiejar.New(nil)
	return &dashboardClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return node.Dial(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (d *dashboardClient) get(path string) (int, string) {
	d.t.Helper()
	resp, err := d.c.Get(d.base + path)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// decide posts a decision with the CSRF token of the client's pages.
func (d *dashboardClient) decide(id, decision string) (int, string) {
	d.t.Helper()
	_, page := d.get("/")
	const marker = `<meta name="csrf-token" content="`
	i := strings.Index(page, marker)
	if i < 0 {
		d.t.Fatalf("no CSRF token: %s", page)
	}
	tok := page[i+len(marker):]
	tok = tok[:strings.IndexByte(tok, '"')]
	resp, err := d.c.PostForm(d.base+"/approvals/"+id, url.Values{"csrf": {tok}, "decision": {decision}})
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestTailnetDashboard serves the dashboard on an offline tailnet: who gets
// in and who may decide comes from WhoIs — a viewer by login, an approver by
// tag, a stranger refused — and no token is printed or accepted.
func TestTailnetDashboard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tn := newTestTailnet(t, nil)
	viewer := tn.node(ctx, "oncall") // untagged: its owner's login names it
	lc, err := viewer.LocalClient()
	if err != nil {
		t.Fatal(err)
	}
	st, err := lc.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	login := st.User[st.Self.UserID].LoginName
	if !strings.Contains(login, "@") {
		t.Fatalf("viewer login %q", login)
	}
	approver := tn.node(ctx, "opsbox", "tag:ops")
	stranger := tn.node(ctx, "stranger", "tag:web")
	agent := tn.node(ctx, "agent-a", "tag:agent")

	up := httpproxytest.New(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	writePolicy(t, dir, strings.ReplaceAll(tailnetDashboardPolicy, "VIEWER", login), up, tn.controlURL)
	logs := &gatewaytest.LogBuffer{}
	join := func(ctx context.Context, cfg gateway.TailnetConfig) (gateway.Transport, error) {
		n, err := tailnet.Join(ctx, tailnet.Config{Settings: cfg.Settings, AuthKey: cfg.AuthKey, Dir: cfg.Dir, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		waitForHomeDERP(t, ctx, n.Server())
		return n, nil
	}
	g, err := gateway.Start(ctx, gateway.Options{Config: filepath.Join(dir, "ward.star"), StateDir: state, WatchInterval: -1,
		JoinTailnet: join, LogHandler: slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	defer g.Close(context.Background())
	u := g.DashboardURL()
	if u != "http://ward.tail-scale.ts.net:8081/" {
		t.Fatalf("dashboard URL %q: want the tailnet name and no token", u)
	}
	base := strings.TrimSuffix(u, "/")

	if status, body := newDashboardClient(t, stranger, base).get("/"); status != http.StatusForbidden || !strings.Contains(body, "tag:web may not use this dashboard") {
		t.Fatalf("stranger: %d %s", status, body)
	}
	v := newDashboardClient(t, viewer, base)
	if status, body := v.get("/?token=anything"); status != 200 || !strings.Contains(body, login) {
		t.Fatalf("viewer: %d %s", status, body)
	}
	a := newDashboardClient(t, approver, base)

	held := make(chan int, 1)
	go func() {
		c := tailnetClient(t, agent, g.ProxyDialAddr(), state)
		resp, err := c.Post("https://"+up.HostPort()+"/repos/a/b/issues", "application/json", strings.NewReader(`{}`))
		if err != nil {
			held <- -1
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	var pending []map[string]any
	for deadline := time.Now().Add(30 * time.Second); len(pending) == 0 && time.Now().Before(deadline); {
		_, body := v.get("/api/approvals")
		if err := json.Unmarshal([]byte(body), &pending); err != nil {
			t.Fatalf("approvals: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(pending) != 1 || pending[0]["agent"] != "agent-a" || pending[0]["can_decide"] != false {
		t.Fatalf("the viewer's pending approvals: %v", pending)
	}
	id := pending[0]["id"].(string)
	if status, body := v.decide(id, "approve"); status != http.StatusForbidden || !strings.Contains(body, "not an approver of dashboard") {
		t.Fatalf("the viewer's approval: %d %s", status, body)
	}
	if status, body := a.decide(id, "approve"); status != http.StatusSeeOther {
		t.Fatalf("the approver's approval: %d %s", status, body)
	}
	select {
	case status := <-held:
		if status != 200 {
			t.Fatalf("the approved request: %d", status)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the approved request did not complete")
	}
	if rec := lastRecord(t, g, state, "agent-a"); rec.DecidedBy != "dashboard:tag:ops" || rec.Verdict != "allow" {
		t.Errorf("audit record: %+v", rec)
	}
	if !strings.Contains(logs.String(), "dashboard: access refused") {
		t.Error("the stranger's refusal is not logged")
	}
}
