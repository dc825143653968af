package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"tailscale.com/client/tailscale/apitype"
	"tailscale.com/tailcfg"
	"tailscale.com/tsnet"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/httpproxy/httpproxytest"
	"github.com/wardproject/ward/protocols/kubernetes/kubetest"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/gateway/gatewaytest"
	"github.com/wardproject/ward/proxy/tailnet"
	"github.com/wardproject/ward/starlark/policy"
)

const tailnetPolicy = `
tailnet(hostname = "ward", control_url = "CONTROL", ephemeral = True, tags = ["tag:ward"])
gateway(proxy_port = 8080)

def check(req):
    a = req.agent
    if "tag:agent" not in a.tags:
        return deny("only tag:agent nodes may call the api, not %s (%s)" % (a.name, a.user))
    if "api" not in a.caps.get("endpoints", []):
        return deny("no grant for endpoint api")
    return allow("agent=%s user=%s max_rows=%s endpoints=%s" % (a.name, a.user, a.caps["max_rows"], a.caps["endpoints"]))

http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"), on_request = check)

kubernetes(name = "cluster", server = "KUBE_SERVER", port = 6443, ca = secrets.file("KUBE_CA"),
           on_request = lambda req: allow("k8s " + req.agent.name + " " + req.agent.user))

def check_sql(q):
    if "tag:agent" not in q.agent.tags:
        return deny("only tag:agent nodes may query, not " + q.agent.name)
    return allow("sql by %s (%s) rows %s" % (q.agent.name, q.agent.user, q.agent.caps["max_rows"]))

POSTGRES_ENDPOINT
`

// grants is what the test tailnet policy grants every peer under ward's
// capability: two grants, merged into agent.caps.
var grants = tailcfg.PeerCapMap{
	policy.CapabilityName: {`{"endpoints": ["api"], "max_rows": 100}`, `{"endpoints": ["staging", "api"]}`},
}

// TestTailnetGateway joins a gateway and agent nodes to an offline
// tailnet: the agents reach the HTTP proxy over the tailnet, the hook sees
// who they are (name, user, tags, caps), a tag policy lets one through and
// denies the other, and a peer that WhoIs cannot identify is refused
// before anything is proxied.
func TestTailnetGateway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tn := newTestTailnet(t, grants)
	up := httpproxytest.New(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	api := kubetest.New(t)
	db := newPGDB(t)
	writePolicy(t, dir, strings.NewReplacer("KUBE_SERVER", api.URL, "KUBE_CA", api.WriteCA(t, dir),
		"POSTGRES_ENDPOINT", db.endpoint(5432, "check_sql", "disable")).Replace(tailnetPolicy), up, tn.controlURL)

	// The gateway's WhoIs is wrapped so that the test can make one peer
	// unidentifiable.
	var refused sync.Map // tailnet IP → true
	logs := &gatewaytest.LogBuffer{}
	join := func(ctx context.Context, cfg gateway.TailnetConfig) (gateway.Transport, error) {
		n, err := tailnet.Join(ctx, tailnet.Config{Settings: cfg.Settings, AuthKey: cfg.AuthKey, Dir: cfg.Dir, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		real := n.WhoIs
		n.WhoIs = func(ctx context.Context, addr string) (*apitype.WhoIsResponse, error) {
			host, _, _ := net.SplitHostPort(addr)
			if _, ok := refused.Load(host); ok {
				return nil, errors.New("peer not found")
			}
			return real(ctx, addr)
		}
		waitForHomeDERP(t, ctx, n.Server())
		return n, nil
	}
	g, err := gateway.Start(ctx, gateway.Options{
		Config: filepath.Join(dir, "ward.star"), StateDir: state, WatchInterval: -1, JoinTailnet: join,
		Resolver:   builtins.Resolver{LookupEnv: func(name string) (string, bool) { return db.Password, name == "DB_PASSWORD" }},
		LogHandler: slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}),
	})
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	defer g.Close(context.Background())
	proxyAddr := g.ProxyDialAddr()
	if !strings.HasPrefix(proxyAddr, "ward.tail-scale.ts.net:") {
		t.Fatalf("proxy dial address %q, want the node's MagicDNS name", proxyAddr)
	}
	if _, err := os.Stat(filepath.Join(state, "tailnet")); err != nil {
		t.Errorf("tailnet state not in the state dir: %v", err)
	}

	agentA := tn.node(ctx, "agent-a", "tag:agent")
	intruder := tn.node(ctx, "intruder", "tag:intruder")

	t.Run("tagged agent allowed, identity and caps in the hook", func(t *testing.T) {
		status, body := get(t, tailnetClient(t, agentA, proxyAddr, state), "https://"+up.HostPort()+"/repos/a/b")
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		rec := lastRecord(t, g, state, "agent-a")
		want := `agent=agent-a user=tag:agent max_rows=[100] endpoints=["api", "staging"]`
		if rec.Reason != want {
			t.Errorf("hook saw %q\nwant        %q", rec.Reason, want)
		}
		if !strings.HasPrefix(rec.Agent.Addr, "100.") || len(rec.Agent.Tags) != 1 || rec.Agent.Tags[0] != "tag:agent" {
			t.Errorf("audit agent = %+v", rec.Agent)
		}
		if caps, _ := json.Marshal(rec.Agent.Caps); string(caps) != `{"endpoints":["api","staging"],"max_rows":[100]}` {
			t.Errorf("audit caps = %s", caps)
		}
	})

	t.Run("other tag denied", func(t *testing.T) {
		status, body := get(t, tailnetClient(t, intruder, proxyAddr, state), "https://"+up.HostPort()+"/repos/a/b")
		if status != http.StatusForbidden || !strings.Contains(body, "only tag:agent nodes may call the api, not intruder (tag:intruder)") {
			t.Fatalf("status %d: %s", status, body)
		}
		if n := len(up.Received()); n != 1 {
			t.Errorf("upstream saw %d requests, want only agent-a's", n)
		}
	})

	t.Run("endpoint ports listen on the tailnet with the same identity", func(t *testing.T) {
		host, _, _ := net.SplitHostPort(proxyAddr)
		c := tailnetClient(t, agentA, proxyAddr, state)
		c.Transport.(*http.Transport).Proxy = nil
		status, body := get(t, c, "https://"+net.JoinHostPort(host, "6443")+"/api/v1/namespaces/default/pods")
		if status != 200 || !strings.Contains(body, "web-0") {
			t.Fatalf("kubernetes over the tailnet: %d %s", status, body)
		}
		if rec := lastRecord(t, g, state, "agent-a"); rec.Endpoint != "cluster" || rec.Reason != "k8s agent-a tag:agent" {
			t.Errorf("audit = %+v", rec)
		}
	})

	t.Run("postgres over the tailnet: tag allowed, other tag denied", func(t *testing.T) {
		host, _, _ := net.SplitHostPort(proxyAddr)
		connect := func(node *tsnet.Server) *pgx.Conn {
			cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://whoever@%s:5432/%s?sslmode=disable", host, db.Name))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return node.Dial(ctx, network, addr)
			}
			cfg.LookupFunc = func(ctx context.Context, host string) ([]string, error) { return []string{host}, nil }
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatalf("connect over the tailnet: %v", err)
			}
			t.Cleanup(func() { c.Close(context.Background()) })
			return c
		}
		var n int
		if err := connect(agentA).QueryRow(ctx, "select 1").Scan(&n); err != nil || n != 1 {
			t.Fatalf("agent-a select 1: %d %v", n, err)
		}
		if rec := lastRecord(t, g, state, "agent-a"); rec.Endpoint != "db" || rec.Reason != "sql by agent-a (tag:agent) rows [100]" {
			t.Errorf("audit = %+v", rec)
		}
		err := connect(intruder).QueryRow(ctx, "select 1").Scan(&n)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(pgErr.Message, "only tag:agent nodes may query, not intruder") {
			t.Fatalf("intruder select 1: %v", err)
		}
	})

	t.Run("unidentified peer refused before any byte", func(t *testing.T) {
		stranger := tn.node(ctx, "stranger", "tag:agent")
		ip4, _ := stranger.TailscaleIPs()
		refused.Store(ip4.String(), true)
		c, err := stranger.Dial(ctx, "tcp", proxyAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, "CONNECT "+up.HostPort()+" HTTP/1.1\r\nHost: "+up.HostPort()+"\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := c.Read(make([]byte, 64))
		if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("stranger read %d bytes, err %v; want the connection closed", n, err)
		}
		// The same on a database port: not even an SSLRequest is answered.
		host, _, _ := net.SplitHostPort(proxyAddr)
		pc, err := stranger.Dial(ctx, "tcp", net.JoinHostPort(host, "5432"))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		_, _ = pc.Write([]byte{0, 0, 0, 8, 4, 210, 22, 47}) // SSLRequest
		_ = pc.SetReadDeadline(time.Now().Add(20 * time.Second))
		if n, err := pc.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("stranger on the postgres port read %d bytes, err %v; want the connection closed", n, err)
		}
		if !strings.Contains(logs.String(), "peer not identified") {
			t.Errorf("refusal not logged")
		}
		for _, rec := range records(t, g, state) {
			if rec.Agent.Name == "stranger" {
				t.Errorf("an action of the unidentified peer was recorded: %+v", rec)
			}
		}
		if n := len(up.Received()); n != 1 {
			t.Errorf("upstream saw %d requests", n)
		}
	})

	t.Run("ward log shows the identity", func(t *testing.T) {
		var out, errb bytes.Buffer
		if code := run(ctx, []string{"log", "--state-dir", state}, &out, &errb); code != 0 {
			t.Fatalf("ward log: %d %s", code, errb.String())
		}
		for _, want := range []string{"agent-a", "intruder"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("ward log lacks %q:\n%s", want, out.String())
			}
		}
		out.Reset()
		if code := run(ctx, []string{"log", "--state-dir", state, "--json", "--agent", "agent-a"}, &out, &errb); code != 0 {
			t.Fatalf("ward log --json: %d %s", code, errb.String())
		}
		for _, want := range []string{`"user":"tag:agent"`, `"tags":["tag:agent"]`, `"caps":{"endpoints":["api","staging"],"max_rows":[100]}`} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("ward log --json lacks %s:\n%s", want, out.String())
			}
		}
	})
}

// TestTailnetFlag runs `ward gateway --tailnet` through the CLI with a
// policy that declares no tailnet(): the gateway joins as "ward" (the
// control server comes from TS_CONTROL_URL, as tsnet reads it) and an
// agent node reaches it by name.
func TestTailnetFlag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tn := newTestTailnet(t, nil)
	t.Setenv("TS_CONTROL_URL", tn.controlURL)
	up := httpproxytest.New(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	writePolicy(t, dir, `
gateway(proxy_port = 8080)
http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"),
     on_request = lambda req: allow("hello " + req.agent.name + " " + req.agent.user))
`, up, "")
	stdout, stderr := &gatewaytest.LogBuffer{}, &gatewaytest.LogBuffer{}
	gwCtx, stopGateway := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- run(gwCtx, []string{"gateway", "--config", filepath.Join(dir, "ward.star"), "--state-dir", state, "--tailnet"}, stdout, stderr)
	}()
	defer func() {
		stopGateway()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("ward gateway exited %d: %s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("ward gateway did not stop")
		}
	}()
	for !strings.Contains(stdout.String(), "proxy listening on") {
		select {
		case code := <-done:
			t.Fatalf("ward gateway exited %d: %s", code, stderr.String())
		case <-ctx.Done():
			t.Fatalf("gateway did not start: %s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if want := "proxy listening on ward.tail-scale.ts.net:8080"; !strings.Contains(stdout.String(), want) {
		t.Fatalf("stdout %q lacks %q", stdout.String(), want)
	}
	agent := tn.node(ctx, "laptop")
	status, body := get(t, tailnetClient(t, agent, "ward:8080", state), "https://"+up.HostPort()+"/x")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if l, err := gateway.ReadListeners(state); err != nil || !l.Tailnet || l.Host != "ward.tail-scale.ts.net" || l.ProxyPort != 8080 {
		t.Errorf("listeners.json = %+v, %v", l, err)
	}
	// ward run learns the gateway's tailnet name from the state dir.
	var env, errb bytes.Buffer
	if code := run(ctx, []string{"run", "--config", filepath.Join(dir, "ward.star"), "--state-dir", state, "--print-env"}, &env, &errb); code != 0 {
		t.Fatalf("ward run --print-env: %d %s", code, errb.String())
	}
	if !strings.Contains(env.String(), "export HTTPS_PROXY='http://ward.tail-scale.ts.net:8080'") {
		t.Errorf("ward run on a tailnet gateway:\n%s", env.String())
	}
	if code := run(ctx, []string{"run", "--config", filepath.Join(dir, "ward.star"), "--state-dir", state, "--agent", "x", "--print-env"}, &env, &errb); code != 1 ||
		!strings.Contains(errb.String(), "on the tailnet an agent is the node it runs on") {
		t.Errorf("ward run --agent on a tailnet gateway: %d %s", code, errb.String())
	}
	if !strings.Contains(stderr.String(), "log_upload=false") {
		t.Errorf("the gateway log does not say log upload is off:\n%s", stderr.String())
	}
}

// writePolicy writes ward.star with UPSTREAM, CA_FILE and CONTROL filled in.
func writePolicy(t *testing.T, dir, text string, up *httpproxytest.Upstream, controlURL string) {
	t.Helper()
	caFile := up.WriteCA(t, dir)
	text = strings.NewReplacer("UPSTREAM", up.HostPort(), "CA_FILE", caFile, "CONTROL", controlURL).Replace(text)
	if err := os.WriteFile(filepath.Join(dir, "ward.star"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, c *http.Client, target string) (int, string) {
	t.Helper()
	resp, err := c.Get(target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// records flushes the gateway's journal and lists every audited action.
func records(t *testing.T, g *gateway.Gateway, state string) []audit.Record {
	t.Helper()
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	store, err := audit.OpenSQLiteReadOnly(filepath.Join(state, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	recs, err := store.List(context.Background(), audit.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func lastRecord(t *testing.T, g *gateway.Gateway, state, agent string) audit.Record {
	t.Helper()
	var found *audit.Record
	for _, r := range records(t, g, state) {
		if r.Agent.Name == agent {
			found = &r
		}
	}
	if found == nil {
		t.Fatalf("no action of %s recorded", agent)
	}
	return *found
}
