package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/judges/slack/slackfake"
	"github.com/wardproject/ward/proxy/gateway"
)

// TestApproveAndDenyFromTheCLI holds requests for a Slack approval and
// decides them with `ward approvals`, `ward approve` and `ward deny`, as
// an operator at the gateway's terminal would.
func TestApproveAndDenyFromTheCLI(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "done") }))
	defer up.Close()
	dir := t.TempDir()
	policy := `
ops = slack.approver(channel = "#ops", bot_token = secrets.env("BOT"), app_token = secrets.env("APP"),
                     approvers = ["U0OPS"], timeout = "30s")
http(name = "api", hosts = ["http://` + up.Listener.Addr().String() + `"], on_request = lambda req: ops.ask(req, note = "cli test"))
`
	if err := os.WriteFile(filepath.Join(dir, "ward.star"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := slackfake.New(t)
	port := 0
	state := filepath.Join(dir, "state")
	gw, err := gateway.Start(context.Background(), gateway.Options{Config: filepath.Join(dir, "ward.star"), StateDir: state,
		ProxyPort: &port, LogHandler: slog.DiscardHandler, WatchInterval: -1, SlackAPIURL: fake.APIURL(), JudgeHTTPClient: fake.Client(),
		Resolver: builtins.Resolver{LookupEnv: func(n string) (string, bool) { return "tok-" + n, true }}})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close(context.Background())
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: gw.ProxyAddr().String()}),
		TLSClientConfig: &tls.Config{}}, Timeout: 20 * time.Second}
	send := func(path string) <-chan int {
		out := make(chan int, 1)
		go func() {
			resp, err := client.Post(up.URL+path, "text/plain", strings.NewReader("x"))
			if err != nil {
				t.Error(err)
				out <- 0
				return
			}
			resp.Body.Close()
			out <- resp.StatusCode
		}()
		return out
	}
	ward := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	pendingID := func() string {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			_, out, _ := ward("approvals", "--state-dir", state)
			if strings.HasPrefix(out, "p") {
				return strings.Fields(out)[0]
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no pending approval listed")
		return ""
	}

	first := send("/first")
	id := pendingID()
	_, out, _ := ward("approvals", "--state-dir", state)
	if !strings.Contains(out, "POST "+up.URL+"/first") || !strings.Contains(out, "cli test") || !strings.Contains(out, "slack:#ops") {
		t.Errorf("ward approvals:\n%s", out)
	}
	if code, out, errOut := ward("approve", "--state-dir", state, "--as", "alice", id); code != 0 || !strings.Contains(out, "allowed "+id) {
		t.Fatalf("ward approve: %d %s %s", code, out, errOut)
	}
	if status := <-first; status != 200 {
		t.Fatalf("approved request got %d", status)
	}
	if code, _, errOut := ward("deny", "--state-dir", state, id); code != 1 || !strings.Contains(errOut, "already decided: allowed by cli:alice") {
		t.Fatalf("deciding twice: %d %s", code, errOut)
	}

	second := send("/second")
	id = pendingID()
	if code, _, errOut := ward("deny", "--state-dir", state, id, "--reason", "not during the freeze"); code != 0 {
		t.Fatalf("ward deny: %d %s", code, errOut)
	}
	if status := <-second; status != http.StatusForbidden {
		t.Fatalf("denied request got %d", status)
	}
	_, out, _ = ward("approvals", "--state-dir", state, "--all")
	if !strings.Contains(out, "denied") || !strings.Contains(out, "not during the freeze") || !strings.Contains(out, "cli:") {
		t.Errorf("ward approvals --all:\n%s", out)
	}
	if code, _, errOut := ward("approve", "--state-dir", state, "pnope"); code != 1 || !strings.Contains(errOut, "no approval pnope") {
		t.Errorf("unknown id: %d %s", code, errOut)
	}
	if code, _, errOut := ward("approve", "--state-dir", filepath.Join(dir, "nowhere"), id); code != 1 || !strings.Contains(errOut, "no audit log") {
		t.Errorf("missing state dir: %d %s", code, errOut)
	}
}
