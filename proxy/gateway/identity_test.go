package gateway_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/gateway"
)

const agentPolicy = `
agent(name = "bot", password = secrets.file("bot.pw"), tags = ["tag:agent"])

def check(req):
    return allow("hello " + req.agent.name)

http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"), on_request = check)
`

// clientAs is a proxy client presenting user:password (none when user is "").
func (h *harness) clientAs(user, password string) *http.Client {
	u := *h.proxyURL
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(&u), TLSClientConfig: &tls.Config{RootCAs: h.caPool}}}
}

func TestDeclaredAgentsFollowReload(t *testing.T) {
	h := start(t, strings.Replace(agentPolicy, "agent(", "# agent(", 1), "bot.pw", "bot-password\n")
	resp, err := h.clientAs("", "").Get(h.url("/a"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("no agents declared: %v %v", resp, err)
	}
	resp.Body.Close()

	h.writePolicy(agentPolicy, h.up.WriteCA(t, h.dir))
	if err := h.gw.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.clientAs("", "").Get(h.url("/b")); err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Fatalf("without a credential after the reload: %v", err)
	}
	if _, err := h.clientAs("bot", "wrong").Get(h.url("/c")); err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Fatalf("wrong password: %v", err)
	}
	resp, err = h.clientAs("bot", "bot-password").Get(h.url("/d"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("as bot: %v %v", resp, err)
	}
	resp.Body.Close()
	recs := h.records()
	if len(recs) != 2 || recs[0].Agent.Name != "local" || recs[1].Agent.Name != "bot" || recs[1].Reason != "hello bot" ||
		len(recs[1].Agent.Tags) != 1 {
		t.Fatalf("audit = %+v", recs)
	}
	if got := h.up.Received(); len(got) != 2 || got[1].Header.Get("Proxy-Authorization") != "" {
		t.Errorf("upstream saw %+v; the agent credential must not reach it", got)
	}
}

func TestTailnetSettingsNeedARestart(t *testing.T) {
	h := start(t, agentPolicy, "bot.pw", "bot-password")
	h.writePolicy(agentPolicy+"\ntailnet(hostname = \"ward\")\n", h.up.WriteCA(t, h.dir))
	err := h.gw.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "tailnet() changed: restart the gateway") {
		t.Fatalf("reload adding tailnet(): %v", err)
	}
}

func TestTailnetPolicyWithoutTransportFailsToStart(t *testing.T) {
	h := &harness{t: t, dir: t.TempDir()}
	h.write("ward.star", "tailnet()\n")
	_, err := gateway.Start(context.Background(), gateway.Options{
		Config: filepath.Join(h.dir, "ward.star"), StateDir: filepath.Join(h.dir, "state"), LogHandler: discard(), WatchInterval: -1})
	if err == nil || !strings.Contains(err.Error(), "no tailnet transport") {
		t.Fatalf("err = %v", err)
	}
}

// TestReloadReachesOpenTunnels: a CONNECT tunnel is identified once; a
// reload that starts requiring agent credentials, or rotates one, must
// apply to the requests of tunnels already open.
func TestReloadReachesOpenTunnels(t *testing.T) {
	h := start(t, strings.Replace(agentPolicy, "agent(", "# agent(", 1), "bot.pw", "bot-password\n")
	local := h.clientAs("", "") // keeps its tunnel open across the reload
	get := func(c *http.Client, path string) int {
		t.Helper()
		resp, err := c.Get(h.url(path))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // so that the tunnel is kept
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(local, "/a"); code != 200 {
		t.Fatalf("before the reload: %d", code)
	}
	h.writePolicy(agentPolicy, h.up.WriteCA(t, h.dir))
	if err := h.gw.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := get(local, "/b"); code != http.StatusForbidden {
		t.Fatalf("an open tunnel of the local agent after agents were declared: %d", code)
	}
	bot := h.clientAs("bot", "bot-password")
	if code := get(bot, "/c"); code != 200 {
		t.Fatalf("as bot: %d", code)
	}
	h.write("bot.pw", "rotated-password\n")
	if err := h.gw.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := get(bot, "/d"); code != http.StatusForbidden {
		t.Fatalf("bot's open tunnel after its password was rotated: %d", code)
	}
	if got := h.up.Received(); len(got) != 2 {
		t.Errorf("upstream saw %d requests, want 2 (/a and /c)", len(got))
	}
}
