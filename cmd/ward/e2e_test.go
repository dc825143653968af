package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardproject/ward/protocols/httpproxy/httpproxytest"
	"github.com/wardproject/ward/proxy/gateway/gatewaytest"
)

const canary = "canary-e2e-5b1d0f-token"

const e2ePolicy = `
def check(req):
    if req.path == "/raise":
        fail("boom")
    if req.path == "/loop":
        while True:
            pass
    if req.method in ("GET", "HEAD"):
        return allow()
    return deny("writes are not allowed")

http(
    name = "api",
    hosts = ["UPSTREAM"],
    inject = bearer(secrets.env("E2E_TOKEN")),
    ca = secrets.file("upstream-ca.pem"),
    on_request = check,
)
`

// e2e is a gateway binary in front of a recording upstream, driven by curl.
type e2e struct {
	dir, state string
	up         *httpproxytest.Upstream
	gw         *gatewayProc
	ca         string
	outputs    []string // everything curl printed, to search for secrets
}

func startE2E(t *testing.T, policy string) *e2e { return startE2EWith(t, policy) }

// startE2EWith is startE2E with more `ward gateway` flags.
func startE2EWith(t *testing.T, policy string, flags ...string) *e2e {
	e := &e2e{dir: t.TempDir(), up: httpproxytest.New(t)}
	e.state = filepath.Join(e.dir, "state")
	e.up.WriteCA(t, e.dir)
	e.writePolicy(t, policy)
	e.gw = startGateway(t, []string{"E2E_TOKEN=" + canary}, append([]string{"--config", filepath.Join(e.dir, "ward.star"), "--state-dir", e.state}, flags...)...)
	out, _, code := ward(t, nil, "ca", "--state-dir", e.state)
	if code != 0 || !strings.Contains(out, "BEGIN CERTIFICATE") {
		t.Fatalf("ward ca: %d %s", code, out)
	}
	e.ca = filepath.Join(e.dir, "gateway-ca.pem")
	if err := os.WriteFile(e.ca, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *e2e) writePolicy(t *testing.T, policy string) {
	src := strings.ReplaceAll(policy, "UPSTREAM", e.up.HostPort())
	if err := os.WriteFile(filepath.Join(e.dir, "ward.star"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *e2e) url(path string) string { return "https://" + e.up.HostPort() + path }

// curl runs curl through the gateway, trusting its CA.
func (e *e2e) curl(t *testing.T, args ...string) (string, int) {
	out, code := curl(t, append([]string{"--proxy", "http://" + e.gw.addr, "--cacert", e.ca}, args...)...)
	e.outputs = append(e.outputs, out)
	return out, code
}

func TestE2EThroughCurl(t *testing.T) {
	e := startE2E(t, e2ePolicy)

	t.Run("allowed GET carries the injected token, not the agent's", func(t *testing.T) {
		out, code := e.curl(t, "-H", "Authorization: Bearer agents-own-token", e.url("/repos/a/b"))
		if code != 0 || !strings.Contains(out, `"method":"GET"`) {
			t.Fatalf("curl %d: %s", code, out)
		}
		got := e.up.Received()
		if len(got) != 1 || got[0].Header.Get("Authorization") != "Bearer "+canary {
			t.Fatalf("upstream received %+v", got)
		}
		if strings.Contains(out, canary) {
			t.Fatal("the response carried the injected token back to the agent")
		}
	})

	t.Run("denied DELETE gets 403 JSON; the same connection then serves a GET", func(t *testing.T) {
		before := len(e.up.Received())
		out, code := e.curl(t, "-X", "DELETE", "-w", "\nstatus=%{http_code} connects=%{num_connects}\n", e.url("/repos/a/b"),
			"--next", "--proxy", "http://"+e.gw.addr, "--cacert", e.ca, "-w", "\nstatus=%{http_code} connects=%{num_connects}\n", e.url("/repos/a/b"))
		if code != 0 {
			t.Fatalf("curl %d: %s", code, out)
		}
		if !strings.Contains(out, `{"error":"denied by policy","reason":"writes are not allowed","action_id":"a`) ||
			!strings.Contains(out, "status=403 connects=1") || !strings.Contains(out, "status=200 connects=0") {
			t.Fatalf("output:\n%s", out)
		}
		got := e.up.Received()[before:]
		if len(got) != 1 || got[0].Method != "GET" {
			t.Fatalf("upstream received %+v", got)
		}
	})

	t.Run("a hook that raises or loops denies quickly with policy error", func(t *testing.T) {
		for _, path := range []string{"/raise", "/loop"} {
			start := time.Now()
			out, _ := e.curl(t, e.url(path))
			if time.Since(start) > 5*time.Second || !strings.Contains(out, `"reason":"policy error"`) || strings.Contains(out, "boom") {
				t.Fatalf("%s: %s (%s)", path, out, time.Since(start))
			}
		}
		if !strings.Contains(e.gw.stderr.String(), "boom") {
			t.Error("the traceback is not in the gateway log")
		}
	})

	t.Run("an undeclared host is refused", func(t *testing.T) {
		out, code := e.curl(t, "https://undeclared.example/")
		if code == 0 || !strings.Contains(out, "403") {
			t.Fatalf("curl %d: %s", code, out)
		}
	})

	t.Run("ward log --follow prints new actions as they happen", func(t *testing.T) {
		cmd := exec.Command(wardBin, "log", "--state-dir", e.state, "--follow", "--json", "-n", "0")
		out := &gatewaytest.LogBuffer{}
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		time.Sleep(300 * time.Millisecond)
		e.curl(t, e.url("/followed"))
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), "/followed") {
			if time.Now().After(deadline) {
				t.Fatalf("ward log --follow did not show the new action:\n%s", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGINT)
	})

	t.Run("ward log and ward fixture; ward test replays the fixture", func(t *testing.T) {
		time.Sleep(300 * time.Millisecond) // the journal loader runs every 100ms
		out, _, code := ward(t, nil, "log", "--state-dir", e.state, "--verdict", "deny", "--json")
		if code != 0 {
			t.Fatalf("ward log: %d", code)
		}
		var id string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var rec struct{ ID, Summary, Reason string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("ward log --json line %q: %v", line, err)
			}
			if strings.HasPrefix(rec.Summary, "DELETE ") {
				id = rec.ID
			}
		}
		if id == "" {
			t.Fatalf("no denied DELETE in ward log:\n%s", out)
		}
		text, _, _ := ward(t, nil, "log", "--state-dir", e.state)
		if !strings.Contains(text, "deny") || !strings.Contains(text, "writes are not allowed") {
			t.Errorf("ward log:\n%s", text)
		}
		fixture, stderr, code := ward(t, nil, "fixture", "--state-dir", e.state, id)
		if code != 0 {
			t.Fatalf("ward fixture: %s", stderr)
		}
		path := filepath.Join(e.dir, "delete.fixture.json")
		if err := os.WriteFile(path, []byte(fixture), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, _, code := ward(t, nil, "test", path); code != 0 {
			t.Fatalf("ward test on the exported fixture: %d\n%s", code, out)
		}
		flipped := strings.Replace(fixture, `"verdict": "deny"`, `"verdict": "allow"`, 1)
		if err := os.WriteFile(path, []byte(flipped), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _, code = ward(t, nil, "test", path)
		if code != 1 || !strings.Contains(out, "--- FAIL: DELETE "+e.url("/repos/a/b")+" ("+path+")") || !strings.Contains(out, `want allow "writes are not allowed", got deny "writes are not allowed"`) {
			t.Fatalf("flipped fixture: exit %d\n%s", code, out)
		}
	})

	t.Run("a reload with a broken policy keeps the old one serving", func(t *testing.T) {
		e.writePolicy(t, "def check(req:\n")
		_ = e.gw.cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(e.gw.stderr.String(), "policy reload rejected") {
			if time.Now().After(deadline) {
				t.Fatalf("no rejected reload in the log:\n%s", e.gw.stderr)
			}
			time.Sleep(50 * time.Millisecond)
		}
		out, _ := e.curl(t, "-X", "DELETE", e.url("/x"))
		if !strings.Contains(out, "writes are not allowed") {
			t.Fatalf("the old policy is not serving: %s", out)
		}
		if out, _ := e.curl(t, e.url("/still-reads")); !strings.Contains(out, `"method":"GET"`) {
			t.Fatalf("reads stopped: %s", out)
		}
	})

	t.Run("the canary secret appears nowhere", func(t *testing.T) {
		e.gw.stop()
		for i, out := range e.outputs {
			if strings.Contains(out, canary) {
				t.Errorf("curl output %d holds the canary: %s", i, out)
			}
		}
		if strings.Contains(e.gw.stderr.String(), canary) {
			t.Error("the gateway log holds the canary")
		}
		_ = filepath.Walk(e.state, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && strings.Contains(readAll(t, path), canary) {
				t.Errorf("%s holds the canary", path)
			}
			return nil
		})
	})
}

func TestE2EObserveMode(t *testing.T) {
	e := startE2E(t, "gateway(mode = \"observe\")\n"+e2ePolicy)
	out, code := e.curl(t, "-X", "DELETE", e.url("/repos/a/b"))
	if code != 0 || !strings.Contains(out, `"method":"DELETE"`) {
		t.Fatalf("curl %d: %s", code, out)
	}
	if got := e.up.Received(); len(got) != 1 || got[0].Method != "DELETE" {
		t.Fatalf("upstream received %+v", got)
	}
	time.Sleep(300 * time.Millisecond)
	logOut, _, _ := ward(t, nil, "log", "--state-dir", e.state, "--verdict", "would_deny")
	if !strings.Contains(logOut, "would_deny") || !strings.Contains(logOut, "DELETE") {
		t.Fatalf("ward log --verdict would_deny:\n%s", logOut)
	}
}

func TestE2EMissingSecretStopsStart(t *testing.T) {
	dir := t.TempDir()
	policy := `http(name = "a", hosts = ["a.example"], inject = bearer(secrets.env("WARD_E2E_UNSET")), on_request = lambda r: allow())`
	if err := os.WriteFile(filepath.Join(dir, "ward.star"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := ward(t, nil, "gateway", "--config", filepath.Join(dir, "ward.star"), "--state-dir", filepath.Join(dir, "s"), "--proxy-port", "0")
	if code != 1 || !strings.Contains(stderr, "environment variable WARD_E2E_UNSET is not set") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
