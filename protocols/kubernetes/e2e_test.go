package kubernetes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/kubernetes"
	"github.com/wardproject/ward/protocols/kubernetes/kubetest"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/gateway/gatewaytest"
)

// canary is the injected token; tests prove where it goes and where not.
const canary = "canary-k8s-token-5d1e0c"

const e2ePolicy = `
def check(req):
    if not req.resource_request:
        return allow("discovery")
    if req.impersonate_user != None or req.impersonate_groups:
        return deny("no impersonation")
    if req.resource == "secrets":
        return deny("secrets are off limits")
    if req.subresource == "exec":
        if list(req.command) == ["echo", "hello"]:
            return allow("a harmless echo")
        return deny("exec of " + " ".join(req.command) + " is not allowed")
    if req.verb in ("get", "list", "watch"):
        return allow("reads are fine")
    return deny(req.verb + " is not allowed")

kubernetes(
    name = "prod",
    server = "https://SERVER",
    ca = secrets.file("CA_FILE"),
    credential = bearer(secrets.env("K8S_TOKEN")),
    port = 0,
    on_request = check,
)
`

// harness runs a gateway in front of a fake API server.
type harness struct {
	t          *testing.T
	dir        string
	api        *kubetest.APIServer
	gw         *gateway.Gateway
	server     string // the gateway's URL for the endpoint
	kubeconfig string
	logs       bytes.Buffer
}

func start(t *testing.T, policy string) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), api: kubetest.New(t)}
	caFile := h.api.WriteCA(t, h.dir)
	policy = strings.ReplaceAll(policy, "SERVER", h.api.Listener.Addr().String())
	policy = strings.ReplaceAll(policy, "CA_FILE", caFile)
	if err := os.WriteFile(filepath.Join(h.dir, "ward.star"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	port := 0
	gw, err := gateway.Start(context.Background(), gateway.Options{
		Config:        filepath.Join(h.dir, "ward.star"),
		StateDir:      filepath.Join(h.dir, "state"),
		ProxyPort:     &port,
		LogHandler:    slog.NewTextHandler(&h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}),
		Resolver:      builtins.Resolver{LookupEnv: func(name string) (string, bool) { return canary, name == "K8S_TOKEN" }},
		WatchInterval: -1,
	})
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	h.gw = gw
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := gw.Close(ctx); err != nil {
			t.Errorf("close gateway: %v", err)
		}
	})
	addr := gw.EndpointAddr("prod")
	if addr == nil {
		t.Fatal("endpoint prod does not listen")
	}
	h.server = "https://" + addr.String()
	caPEM, err := os.ReadFile(filepath.Join(h.dir, "state", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kubernetes.Kubeconfig(caPEM, kubernetes.Cluster{Name: "prod", Server: h.server, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	h.kubeconfig = filepath.Join(h.dir, "kubeconfig")
	if err := os.WriteFile(h.kubeconfig, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

// kubectl runs the real kubectl against the gateway.
func (h *harness) kubectl(env []string, args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	bin := kubectlPath(h.t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--request-timeout=20s"}, args...)...)
	cmd.Env = append([]string{"KUBECONFIG=" + h.kubeconfig, "HOME=" + h.dir, "PATH=" + os.Getenv("PATH")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return out.String(), errb.String(), code
}

func kubectlPath(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kubectl is not installed; CI must install it (.ci/run)")
		}
		t.Skip("SKIPPING: kubectl is not installed (CI installs it and fails without it)")
	}
	return bin
}

// records returns every audited action.
func (h *harness) records() []audit.Record { return gatewaytest.Records(h.t, h.gw) }

// reached reports whether any request reaching the API server had a path
// containing s.
func (h *harness) reached(s string) bool {
	for _, r := range h.api.Received() {
		if strings.Contains(r.Target, s) {
			return true
		}
	}
	return false
}

func TestKubectlGetPodsAllowedWithInjectedToken(t *testing.T) {
	h := start(t, e2ePolicy)
	out, errOut, code := h.kubectl(nil, "get", "pods")
	if code != 0 || !strings.Contains(out, "web-0") {
		t.Fatalf("kubectl get pods: code %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var sawList bool
	for _, r := range h.api.Received() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+canary {
			t.Errorf("%s %s reached the API server with Authorization %q", r.Method, r.Target, got)
		}
		sawList = sawList || strings.HasPrefix(r.Target, "/api/v1/namespaces/default/pods")
	}
	if !sawList {
		t.Errorf("the pod list never reached the API server: %+v", h.api.Received())
	}
	cfg, err := os.ReadFile(h.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cfg, []byte(canary)) {
		t.Errorf("the kubeconfig holds a credential:\n%s", cfg)
	}
	if strings.Contains(out+errOut, canary) {
		t.Errorf("kubectl output leaks the token")
	}
}

func TestKubectlDenials(t *testing.T) {
	h := start(t, e2ePolicy)
	cases := []struct {
		name    string
		env     []string
		args    []string
		message string
		never   string // a path that must not reach the API server
	}{
		{"get secrets", nil, []string{"get", "secrets"}, "ward: denied: secrets are off limits", "/secrets"},
		{"get secrets -A", nil, []string{"get", "secrets", "-A"}, "ward: denied: secrets are off limits", "/secrets"},
		{"delete pod", nil, []string{"delete", "pod", "web-0"}, "ward: denied: delete is not allowed", ""},
		{"delete pods --all", nil, []string{"delete", "pods", "--all"}, "ward: denied: delete is not allowed", ""},
		{"exec websocket then spdy", nil, []string{"exec", "-it", "web-0", "--", "sh"}, "ward: denied: exec of sh is not allowed", "/exec"},
		{"exec spdy only", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}, []string{"exec", "-it", "web-0", "--", "sh"}, "ward: denied: exec of sh is not allowed", "/exec"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.api.Reset()
			out, errOut, code := h.kubectl(tc.env, tc.args...)
			if code == 0 {
				t.Fatalf("kubectl %v succeeded:\n%s", tc.args, out)
			}
			want := "Error from server (Forbidden): " + tc.message
			if !strings.Contains(errOut, want) {
				t.Errorf("kubectl %v: stderr does not say %q:\n%s", tc.args, want, errOut)
			}
			if tc.never != "" && h.reached(tc.never) {
				t.Errorf("a %s request reached the API server", tc.never)
			}
			for _, r := range h.api.Received() {
				if r.Method == "DELETE" {
					t.Errorf("a DELETE reached the API server: %s", r.Target)
				}
			}
		})
	}
	// Both exec attempts of the first exec (WebSocket, then SPDY) and the
	// SPDY-only one were decided and denied.
	upgrades := map[string]int{}
	for _, rec := range h.records() {
		if rec.Verdict == audit.VerdictDeny && strings.Contains(string(rec.Facts), `"subresource":"exec"`) {
			switch {
			case strings.Contains(string(rec.Facts), `"upgrade":"websocket"`):
				upgrades["websocket"]++
			case strings.Contains(string(rec.Facts), `"upgrade":"spdy"`):
				upgrades["spdy"]++
			}
		}
	}
	wantWS := 0
	if kubectlMinor(t) >= 30 {
		wantWS = 1 // kubectl 1.30+ tries WebSocket first, then falls back to SPDY
	}
	if upgrades["websocket"] != wantWS || upgrades["spdy"] != 2 {
		t.Errorf("denied exec attempts by upgrade = %v, want websocket %d, spdy 2", upgrades, wantWS)
	}
}

// kubectlMinor is the minor version of the installed kubectl.
func kubectlMinor(t *testing.T) int {
	out, err := exec.Command(kubectlPath(t), "version", "--client", "-o", "json").Output()
	if err != nil {
		t.Fatalf("kubectl version: %v", err)
	}
	var v struct {
		ClientVersion struct{ Minor string } `json:"clientVersion"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("kubectl version: %v", err)
	}
	n, _ := strconv.Atoi(strings.TrimRight(v.ClientVersion.Minor, "+"))
	return n
}

func TestReloadTakesEffectOnTheNextRequest(t *testing.T) {
	h := start(t, e2ePolicy)
	if _, errOut, code := h.kubectl(nil, "get", "pods"); code != 0 {
		t.Fatalf("get pods before the reload: %s", errOut)
	}
	policy, err := os.ReadFile(filepath.Join(h.dir, "ward.star"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(policy), `return allow("reads are fine")`, `return deny("maintenance window")`, 1)
	if err := os.WriteFile(filepath.Join(h.dir, "ward.star"), []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.gw.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	_, errOut, code := h.kubectl(nil, "get", "pods")
	if code == 0 || !strings.Contains(errOut, "Error from server (Forbidden): ward: denied: maintenance window") {
		t.Fatalf("get pods after the reload: code %d, %s", code, errOut)
	}
}

func TestKubectlExecAllowedPassesTheUpgradeThrough(t *testing.T) {
	h := start(t, e2ePolicy)
	out, errOut, code := h.kubectl(nil, "exec", "web-0", "--", "echo", "hello")
	if code != 0 || strings.TrimSpace(out) != "hello" {
		t.Fatalf("kubectl exec: code %d\nstdout: %q\nstderr: %s", code, out, errOut)
	}
	var sawExec bool
	for _, r := range h.api.Received() {
		if strings.Contains(r.Target, "/exec") {
			sawExec = true
			if r.Header.Get("Authorization") != "Bearer "+canary {
				t.Errorf("exec reached the API server without the injected token")
			}
		}
	}
	if !sawExec {
		t.Error("exec never reached the API server")
	}
}
