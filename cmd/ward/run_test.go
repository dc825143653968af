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
	"github.com/wardproject/ward/protocols/kubernetes/kubetest"
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

const kubePolicy = `
agent(name = "bot", password = secrets.env("BOT_PW"))

def check_k8s(req):
    return allow("k8s by " + req.agent.name)

kubernetes(name = "prod", server = "KUBE_SERVER", port = 0, namespace = "apps",
           ca = secrets.file("KUBE_CA"), credential = bearer(secrets.env("K8S_TOKEN")), on_request = check_k8s)
http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"), on_request = check_k8s)
`

func TestRunKubectlAsDeclaredAgent(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kubectl is not installed; CI must install it")
		}
		t.Skip("kubectl is not installed (CI installs it and fails here instead of skipping)")
	}
	api := kubetest.New(t)
	dir := t.TempDir()
	policyText := strings.NewReplacer("KUBE_SERVER", api.URL, "KUBE_CA", api.WriteCA(t, dir)).Replace(kubePolicy)
	h := startRunHarness(t, policyText, map[string]string{"BOT_PW": "bot-password-1", "K8S_TOKEN": "k8s-real-token"})
	h.env = append(h.env, "BOT_PW=bot-password-1", "K8S_TOKEN=k8s-real-token")

	code, out, errb := h.run("run", "--state-dir", h.state, "--agent", "bot", "--", "kubectl", "get", "pods")
	if code != 0 || !strings.Contains(out, "web-0") {
		t.Fatalf("kubectl get pods through ward run: exit %d\n%s\n%s", code, out, errb)
	}
	if !strings.Contains(errb, "removed K8S_TOKEN") {
		t.Errorf("ward run did not remove the cluster token: %s", errb)
	}
	got := api.Received()
	if len(got) == 0 || got[len(got)-1].Header.Get("Authorization") != "Bearer k8s-real-token" ||
		!strings.Contains(got[len(got)-1].Target, "/namespaces/apps/pods") {
		t.Fatalf("API server saw %+v", got)
	}
	recs := records(t, h.gw, h.state)
	if len(recs) == 0 || recs[len(recs)-1].Agent.Name != "bot" || recs[len(recs)-1].Reason != "k8s by bot" {
		t.Fatalf("audit = %+v", recs)
	}
	// The kubeconfig holds the agent's ward password, never the cluster's token.
	_, env, _ := h.run("run", "--state-dir", h.state, "--agent", "bot", "--print-env")
	cfg := string(readExported(t, env, "KUBECONFIG"))
	if !strings.Contains(cfg, "bot-password-1") || strings.Contains(cfg, "k8s-real-token") || !strings.Contains(cfg, "namespace: apps") {
		t.Errorf("kubeconfig:\n%s", cfg)
	}
}

func needPsql(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("psql is not installed; CI must install it")
		}
		t.Skip("psql is not installed (CI installs it and fails here instead of skipping)")
	}
}

func TestRunPsqlWithoutAPassword(t *testing.T) {
	needPsql(t)
	db := newPGDB(t)
	policyText := "def sql_hook(q):\n    return allow(\"sql by \" + q.agent.name)\n" + db.endpoint(0, "sql_hook", "disable")
	h := startRunHarness(t, policyText, map[string]string{"DB_PASSWORD": db.Password})
	// The agent's shell has the real password, as a developer's would.
	h.env = append(h.env, "PGPASSWORD="+db.Password, "DB_PASSWORD="+db.Password)

	code, out, errb := h.run("run", "--state-dir", h.state, "--", "psql", "-XAtc", "select current_user, current_database()")
	if code != 0 || strings.TrimSpace(out) != db.Role+"|"+db.Name {
		t.Fatalf("psql through ward run: exit %d\nstdout %s\nstderr %s", code, out, errb)
	}
	for _, report := range []string{
		"removed PGPASSWORD from the agent's environment (",
		"removed DB_PASSWORD from the agent's environment (the gateway's secret <secret env:DB_PASSWORD>)",
	} {
		if !strings.Contains(errb, report) {
			t.Errorf("ward run did not say %q:\n%s", report, errb)
		}
	}
	code, out, _ = h.run("run", "--state-dir", h.state, "-q", "--", "sh", "-c", `echo "${PGPASSWORD-unset} ${DB_PASSWORD-unset} $PGHOST $PGUSER $PGDATABASE $PGSSLMODE"`)
	if want := "unset unset 127.0.0.1 " + db.Role + " " + db.Name + " verify-full\n"; code != 0 || out != want {
		t.Errorf("agent environment: %q, want %q", out, want)
	}
	recs := records(t, h.gw, h.state)
	if len(recs) != 1 || recs[0].Endpoint != "db" || recs[0].Agent.Name != "local" || recs[0].Reason != "sql by local" {
		t.Fatalf("audit = %+v", recs)
	}
}

func TestRunPsqlAsDeclaredAgentOverTLS(t *testing.T) {
	needPsql(t)
	db := newPGDB(t)
	policyText := `agent(name = "bot", password = secrets.env("BOT_PW"))
def sql_hook(q):
    return allow("sql by " + q.agent.name)
` + db.endpoint(0, "sql_hook", "disable")
	h := startRunHarness(t, policyText, map[string]string{"DB_PASSWORD": db.Password, "BOT_PW": "bot-password-1"})
	h.env = append(h.env, "BOT_PW=bot-password-1")

	// verify-full against the gateway CA (PGSSLROOTCERT), the agent's ward
	// password in PGPASSWORD.
	code, out, errb := h.run("run", "--state-dir", h.state, "--agent", "bot", "--", "psql", "-XAtc", "select 1")
	if code != 0 || strings.TrimSpace(out) != "1" {
		t.Fatalf("psql as bot: exit %d\n%s\n%s", code, out, errb)
	}
	_, env, _ := h.run("run", "--state-dir", h.state, "--agent", "bot", "--print-env")
	for _, want := range []string{"export PGSSLMODE='verify-full'", "export PGSSLROOTCERT=", "export PGPASSWORD='bot-password-1'"} {
		if !strings.Contains(env, want) {
			t.Errorf("--print-env lacks %s", want)
		}
	}
	// Without the agent's password, or with the database's, the gateway
	// refuses the login.
	port := strings.TrimSpace(strings.SplitN(strings.SplitN(env, "export PGPORT='", 2)[1], "'", 2)[0])
	for _, pw := range []string{"", db.Password} {
		cmd := exec.Command("psql", "-XAtc", "select 1", "-w")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PGHOST=127.0.0.1", "PGPORT=" + port, "PGUSER=" + db.Role,
			"PGDATABASE=" + db.Name, "PGSSLMODE=require", "PGPASSWORD=" + pw}
		out, err := cmd.CombinedOutput()
		if err == nil || (!strings.Contains(string(out), "password") && !strings.Contains(string(out), "agent")) {
			t.Errorf("password %q: psql %v: %s", pw, err, out)
		}
	}
	recs := records(t, h.gw, h.state)
	if len(recs) != 1 || recs[0].Agent.Name != "bot" {
		t.Fatalf("audit = %+v", recs)
	}
}
