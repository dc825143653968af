package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/httpproxy/httpproxytest"
	"github.com/wardproject/ward/proxy/gateway"
)

const runCanary = "runCanary-run-7f3a9c-secret-token"

// runPolicy declares the recording upstream as an API whose token the
// gateway injects, and a GitHub endpoint, so ward run has credentials to
// remove.
const runPolicy = `
def check(req):
    if req.method == "GET":
        return allow("read by " + req.agent.name)
    return deny("read only")

http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"),
     inject = bearer(secrets.env("WARD_TEST_TOKEN")), on_request = check)
http(name = "github", hosts = ["api.github.com"], inject = bearer(secrets.env("WARD_TEST_GH")), on_request = check)
`

// runHarness is a local gateway and a way to run `ward run` as a process.
type runHarness struct {
	t     *testing.T
	dir   string
	state string
	up    *httpproxytest.Upstream
	gw    *gateway.Gateway
	env   []string // the parent environment of ward run
}

func startRunHarness(t *testing.T, policyText string, secrets map[string]string) *runHarness {
	t.Helper()
	h := &runHarness{t: t, dir: t.TempDir(), up: httpproxytest.New(t)}
	h.state = filepath.Join(h.dir, "state")
	writePolicy(t, h.dir, policyText, h.up, "")
	port := 0
	g, err := gateway.Start(context.Background(), gateway.Options{
		Config: filepath.Join(h.dir, "ward.star"), StateDir: h.state, ProxyPort: &port, WatchInterval: -1,
		LogHandler: slog.DiscardHandler,
		Resolver: builtins.Resolver{LookupEnv: func(name string) (string, bool) {
			v, ok := secrets[name]
			return v, ok
		}},
	})
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	h.gw = g
	t.Cleanup(func() { g.Close(context.Background()) })
	h.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir, "XDG_CACHE_HOME=" + filepath.Join(h.dir, "cache")}
	return h
}

// ward runs `ward ARGS...` as a process in the policy's directory, with
// exactly h.env as its environment.
func (h *runHarness) ward(args ...string) *exec.Cmd {
	cmd := exec.Command(wardBin, args...)
	cmd.Dir, cmd.Env = h.dir, h.env
	return cmd
}

// run runs `ward ARGS...` and returns its exit code, stdout and stderr.
func (h *runHarness) run(args ...string) (int, string, string) {
	h.t.Helper()
	cmd := h.ward(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errb.String()
	}
	h.t.Fatalf("ward %v: %v", args, err)
	return 0, "", ""
}

func needCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed; CI must install it")
		}
		t.Skip("curl is not installed (CI installs it and fails here instead of skipping)")
	}
}

func TestRunCurlTrustsTheGatewayWithoutFlags(t *testing.T) {
	needCurl(t)
	h := startRunHarness(t, runPolicy, map[string]string{"WARD_TEST_TOKEN": runCanary, "WARD_TEST_GH": "gh-token-in-gateway"})
	code, out, errb := h.run("run", "--state-dir", h.state, "--", "curl", "-sS", "--fail-with-body", "https://"+h.up.HostPort()+"/repos/a/b")
	if code != 0 || !strings.Contains(out, `"path":"/repos/a/b"`) {
		t.Fatalf("curl through ward run: exit %d\nstdout %s\nstderr %s", code, out, errb)
	}
	got := h.up.Received()
	if len(got) != 1 || got[0].Header.Get("Authorization") != "Bearer "+runCanary {
		t.Fatalf("upstream saw %+v", got)
	}
	recs := records(t, h.gw, h.state)
	if len(recs) != 1 || recs[0].Agent.Name != "local" || recs[0].Reason != "read by local" {
		t.Fatalf("audit = %+v", recs)
	}
	// A write is denied with ward's 403, and curl's exit status passes through.
	code, out, _ = h.run("run", "--state-dir", h.state, "-q", "--", "curl", "-sS", "--fail-with-body", "-X", "DELETE", "https://"+h.up.HostPort()+"/repos/a/b")
	if code != 22 || !strings.Contains(out, "read only") {
		t.Fatalf("denied DELETE: exit %d, %s", code, out)
	}
}

func TestRunRemovesTheGatewaysCredentials(t *testing.T) {
	h := startRunHarness(t, runPolicy, map[string]string{"WARD_TEST_TOKEN": runCanary, "WARD_TEST_GH": "gh"})
	h.env = append(h.env, "WARD_TEST_TOKEN="+runCanary, "COPY_OF_TOKEN="+runCanary, "GITHUB_TOKEN=ghp-real", "GH_TOKEN=ghp-real2",
		"UNRELATED=keep-me", "HTTPS_PROXY=http://elsewhere:3128", "NO_PROXY=*")
	code, out, errb := h.run("run", "--state-dir", h.state, "--", "sh", "-c", "env")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	for _, gone := range []string{"WARD_TEST_TOKEN=", "COPY_OF_TOKEN=", "GITHUB_TOKEN=", "GH_TOKEN=", runCanary, "elsewhere", "NO_PROXY=*"} {
		if strings.Contains(out, gone) {
			t.Errorf("the agent's environment still has %q", gone)
		}
	}
	for _, kept := range []string{"UNRELATED=keep-me", "HTTPS_PROXY=http://127.0.0.1:", "NO_PROXY=localhost,::1\n"} {
		if !strings.Contains(out, kept) {
			t.Errorf("the agent's environment lacks %q:\n%s", kept, out)
		}
	}
	for _, report := range []string{
		"removed WARD_TEST_TOKEN from the agent's environment (the gateway's secret <secret env:WARD_TEST_TOKEN>)",
		"removed COPY_OF_TOKEN from the agent's environment (same value as WARD_TEST_TOKEN, the gateway's secret)",
		"removed GITHUB_TOKEN from the agent's environment (http endpoint github: the gateway holds the credential)",
		"removed GH_TOKEN",
	} {
		if !strings.Contains(errb, report) {
			t.Errorf("ward run did not say %q:\n%s", report, errb)
		}
	}
}

func TestRunPrintEnv(t *testing.T) {
	h := startRunHarness(t, runPolicy, map[string]string{"WARD_TEST_TOKEN": runCanary, "WARD_TEST_GH": "gh"})
	code, out, errb := h.run("run", "--state-dir", h.state, "--print-env")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	proxy := "'http://" + h.gw.ProxyAddr().String() + "'"
	for _, want := range []string{"export HTTP_PROXY=" + proxy, "export HTTPS_PROXY=" + proxy, "export ALL_PROXY=" + proxy,
		"export https_proxy=" + proxy, "export NO_PROXY='localhost,::1'", "export SSL_CERT_FILE=", "export REQUESTS_CA_BUNDLE=",
		"export CURL_CA_BUNDLE=", "export GIT_SSL_CAINFO=", "export NODE_EXTRA_CA_CERTS="} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-env lacks %q:\n%s", want, out)
		}
	}
	caPEM, err := os.ReadFile(filepath.Join(h.state, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := readExported(t, out, "SSL_CERT_FILE")
	extra := readExported(t, out, "NODE_EXTRA_CA_CERTS")
	if !bytes.Contains(bundle, caPEM) || bytes.Count(bundle, []byte("BEGIN CERTIFICATE")) < 2 {
		t.Errorf("the CA bundle holds %d certificates and the gateway CA: %v", bytes.Count(bundle, []byte("BEGIN CERTIFICATE")), bytes.Contains(bundle, caPEM))
	}
	if !bytes.Equal(bytes.TrimSpace(extra), bytes.TrimSpace(caPEM)) {
		t.Errorf("NODE_EXTRA_CA_CERTS is not the gateway CA alone")
	}
}

// readExported reads the file an `export NAME='path'` line names.
func readExported(t *testing.T, out, name string) []byte {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "export "+name+"="); ok {
			data, err := os.ReadFile(strings.Trim(v, "'"))
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	t.Fatalf("%s not exported", name)
	return nil
}

func TestRunExitStatusAndSignalsPassThrough(t *testing.T) {
	h := startRunHarness(t, runPolicy, map[string]string{"WARD_TEST_TOKEN": runCanary, "WARD_TEST_GH": "gh"})
	if code, _, errb := h.run("run", "--state-dir", h.state, "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit 7 came back as %d: %s", code, errb)
	}
	if code, _, errb := h.run("run", "--state-dir", h.state, "--", "no-such-command-for-ward"); code != 127 || !strings.Contains(errb, "no-such-command-for-ward") {
		t.Errorf("missing command: exit %d: %s", code, errb)
	}
	notExec := filepath.Join(h.dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errb := h.run("run", "--state-dir", h.state, "--", notExec); code != 126 || !strings.Contains(errb, "permission denied") {
		t.Errorf("command that is not executable: exit %d, want 126 as shells do: %s", code, errb)
	}
	if code, _, _ := h.run("run", "--state-dir", h.state); code != 2 {
		t.Errorf("no command: exit %d, want 2 (usage)", code)
	}
	if code, _, errb := h.run("run", "--state-dir", filepath.Join(h.dir, "elsewhere"), "--", "true"); code != 1 ||
		!strings.Contains(errb, "read the gateway CA") || !strings.Contains(errb, "--ca FILE") {
		t.Errorf("no CA: exit %d: %s", code, errb)
	}
	if code, _, errb := h.run("run", "--state-dir", h.state, "--gateway", "127.0.0.1:99999", "--", "true"); code != 1 || !strings.Contains(errb, "want HOST or HOST:PORT") {
		t.Errorf("bad --gateway: exit %d: %s", code, errb)
	}

	// The agent killed by a signal: ward run dies of it too.
	cmd := h.ward("run", "--state-dir", h.state, "--", "sh", "-c", "kill -TERM $$")
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("agent killed by SIGTERM: ward run ended with %v", err)
	}

	// A signal sent to ward run reaches the agent.
	cmd = h.ward("run", "--state-dir", h.state, "--", "sh", "-c", `trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 6)
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("agent did not start: %q %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if !errors.As(err, &exit) || exit.ExitCode() != 42 {
			t.Errorf("SIGTERM to ward run: %v, want the agent's trap to exit 42", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the agent did not get the signal")
	}
}

const agentsPolicy = `
agent(name = "bot", password = secrets.env("BOT_PW"), tags = ["team:data"], caps = {"endpoints": ["api"]})
agent(name = "intern", password = secrets.env("INTERN_PW"))

def check(req):
    if "api" in req.agent.caps.get("endpoints", []):
        return allow("%s %s %s" % (req.agent.name, ",".join(req.agent.tags), req.agent.caps["endpoints"]))
    return deny(req.agent.name + " has no grant for api")

http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"), on_request = check)
`

func TestRunAsDeclaredAgent(t *testing.T) {
	needCurl(t)
	secrets := map[string]string{"BOT_PW": "bot-password-1", "INTERN_PW": "intern-password-2"}
	h := startRunHarness(t, agentsPolicy, secrets)
	h.env = append(h.env, "BOT_PW=bot-password-1", "INTERN_PW=intern-password-2")
	target := "https://" + h.up.HostPort() + "/x"

	code, out, errb := h.run("run", "--state-dir", h.state, "--agent", "bot", "--", "curl", "-sS", "--fail-with-body", target)
	if code != 0 {
		t.Fatalf("as bot: exit %d %s %s", code, out, errb)
	}
	code, out, _ = h.run("run", "--state-dir", h.state, "--agent", "intern", "-q", "--", "curl", "-sS", "--fail-with-body", target)
	if code != 22 || !strings.Contains(out, "intern has no grant for api") {
		t.Fatalf("as intern: exit %d %s", code, out)
	}
	recs := records(t, h.gw, h.state)
	if len(recs) != 2 || recs[0].Reason != `bot team:data ["api"]` || recs[1].Agent.Name != "intern" {
		t.Fatalf("audit = %+v", recs)
	}

	// Without a credential, or with a wrong one, the proxy answers 407
	// and records nothing.
	code, out, errb = h.run("run", "--state-dir", h.state, "--", "true")
	if code != 1 || !strings.Contains(errb, "declares agents (bot, intern): pass --agent NAME") {
		t.Fatalf("no --agent: exit %d %s", code, errb)
	}
	code, _, errb = h.run("run", "--state-dir", h.state, "--agent", "nobody", "--", "true")
	if code != 1 || !strings.Contains(errb, "no such agent") {
		t.Fatalf("unknown --agent: exit %d %s", code, errb)
	}
	proxy := "http://" + h.gw.ProxyAddr().String()
	for _, creds := range []string{"", "bot:wrong", "intern:bot-password-1"} {
		args := []string{"-sS", "-o", "/dev/null", "-w", "%{http_connect}", "--proxy", proxy, "--cacert", filepath.Join(h.state, "ca.pem"), target}
		if creds != "" {
			args = append(args, "--proxy-user", creds)
		}
		out, _ := exec.Command("curl", args...).Output()
		if string(out) != "407" {
			t.Errorf("credential %q: proxy answered %s, want 407", creds, out)
		}
	}
	if n := len(records(t, h.gw, h.state)); n != 2 {
		t.Errorf("%d actions recorded; refused credentials must not reach the policy", n)
	}
	if len(h.up.Received()) != 1 {
		t.Errorf("upstream saw %d requests", len(h.up.Received()))
	}
}
