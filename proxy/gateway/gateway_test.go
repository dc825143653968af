package gateway_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
)

const testPolicy = `
def check(req):
    if req.path == "/raise":
        fail("boom at " + req.path)
    if req.path == "/loop":
        while True:
            pass
    if req.path == "/not-a-verdict":
        return "yes"
    if req.method in ("GET", "HEAD"):
        return allow("reads are fine")
    return deny("no writes in tests")

http(
    name = "api",
    hosts = ["UPSTREAM"],
    inject = bearer(secrets.env("TOKEN")),
    ca = secrets.file("CA_FILE"),
    on_request = check,
)
`

func TestAllowedRequestCarriesInjectedCredential(t *testing.T) {
	h := start(t, testPolicy)
	status, body, _ := h.do("GET", h.url("/repos/a/b?x=1"), "", "Authorization", "Bearer agent-own-token")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	got := h.up.Received()
	if len(got) != 1 {
		t.Fatalf("upstream saw %d requests", len(got))
	}
	if auth := got[0].Header.Get("Authorization"); auth != "Bearer "+canary {
		t.Errorf("upstream Authorization = %q, want the injected token", auth)
	}
	if got[0].Target != "/repos/a/b?x=1" {
		t.Errorf("upstream target = %q", got[0].Target)
	}
	if strings.Contains(body, canary) || strings.Contains(body, "agent-own-token") {
		t.Errorf("response body leaks a credential: %s", body)
	}
	recs := h.records()
	if len(recs) != 1 || recs[0].Verdict != audit.VerdictAllow || !recs[0].Completed || recs[0].Status != 200 {
		t.Fatalf("audit = %+v", recs)
	}
	if recs[0].Reason != "reads are fine" || recs[0].DecidedBy != "policy" || recs[0].Summary != "GET "+h.url("/repos/a/b?x=1") {
		t.Errorf("audit record = %+v", recs[0])
	}
}

func TestDeniedRequestNeverReachesUpstreamAndConnectionStaysUsable(t *testing.T) {
	h := start(t, testPolicy)
	var conns []bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conns = append(conns, i.Reused) }}
	do := func(method string) (int, string) {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, h.url("/repos/a/b"), nil)
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := do("DELETE")
	if status != http.StatusForbidden {
		t.Fatalf("DELETE status %d", status)
	}
	p := problem(t, body)
	if p["error"] != "denied by policy" || p["reason"] != "no writes in tests" || p["action_id"] == "" {
		t.Errorf("denial body = %s", body)
	}
	if n := len(h.up.Received()); n != 0 {
		t.Fatalf("upstream saw %d requests after a denial", n)
	}
	if status, _ := do("GET"); status != 200 {
		t.Fatalf("GET after denial: %d", status)
	}
	if len(conns) != 2 || !conns[1] {
		t.Errorf("second request did not reuse the connection: %v", conns)
	}
	for range 5 {
		do("GET")
	}
	if n := h.up.Conns(); n != 1 {
		t.Errorf("the gateway opened %d connections to the upstream for 6 requests; want 1 (keep-alive)", n)
	}
}

func TestPolicyErrorsDenyQuickly(t *testing.T) {
	h := start(t, testPolicy)
	for _, path := range []string{"/raise", "/loop", "/not-a-verdict"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			status, body, _ := h.do("GET", h.url(path), "")
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("took %s", elapsed)
			}
			if status != http.StatusForbidden || problem(t, body)["reason"] != "policy error" {
				t.Fatalf("status %d body %s", status, body)
			}
			if strings.Contains(body, "boom") || strings.Contains(body, "ward.star") {
				t.Errorf("policy details reached the agent: %s", body)
			}
		})
	}
	if !strings.Contains(h.logs.String(), "boom at /raise") {
		t.Errorf("traceback missing from the gateway log:\n%s", h.logs)
	}
	if n := len(h.up.Received()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}

func TestCanaryAppearsNowhere(t *testing.T) {
	h := start(t, testPolicy)
	var responses []string
	collect := func(status int, body string, hdr http.Header) {
		responses = append(responses, body)
		for k, v := range hdr {
			responses = append(responses, k+": "+strings.Join(v, ","))
		}
	}
	collect(h.do("GET", h.url("/echo"), "", "Authorization", "Bearer agent"))
	collect(h.do("GET", h.url("/reflect-header"), ""))
	collect(h.do("POST", h.url("/write"), `{"a":1}`))
	collect(h.do("GET", h.url("/raise"), ""))
	if got := h.up.Received(); len(got) < 2 || got[1].Header.Get("Authorization") != "Bearer "+canary {
		t.Fatalf("the upstream did not get the canary; the test proves nothing")
	}
	for i, r := range responses {
		if strings.Contains(r, canary) {
			t.Errorf("response %d leaks the canary: %s", i, r)
		}
	}
	h.records()
	h.close()
	if strings.Contains(h.logs.String(), canary) {
		t.Errorf("gateway log leaks the canary")
	}
	err := filepath.Walk(filepath.Join(h.dir, "state"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(data), canary) {
			t.Errorf("%s holds the canary", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUndeclaredHostIsRefused(t *testing.T) {
	h := start(t, testPolicy)
	_, err := h.client.Get("https://undeclared.example:443/")
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("CONNECT to an undeclared host: %v", err)
	}
	recs := h.records()
	if len(recs) != 1 || recs[0].Verdict != audit.VerdictDeny || recs[0].Summary != "CONNECT undeclared.example:443" {
		t.Fatalf("audit = %+v", recs)
	}
}

func TestPassthroughTunnelsUnparsed(t *testing.T) {
	h := start(t, `
gateway(unknown_hosts = "passthrough")
http(name = "other", hosts = ["other.example"], on_request = lambda r: allow())
`)
	// The agent talks TLS straight to the upstream: trust its certificate.
	h.client.Transport.(*http.Transport).TLSClientConfig.RootCAs = h.up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	status, _, _ := h.do("DELETE", h.url("/anything"), "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	h.client.CloseIdleConnections()
	waitFor(t, "tunnel completion", func() bool {
		recs := h.records()
		return len(recs) == 1 && recs[0].Completed
	})
	rec := h.records()[0]
	if rec.Verdict != audit.VerdictPassthrough || rec.BytesIn == 0 || rec.BytesOut == 0 {
		t.Fatalf("audit = %+v", rec)
	}
}

func TestObserveModeForwardsWhatWouldBeDenied(t *testing.T) {
	h := start(t, "gateway(mode = \"observe\")\n"+testPolicy)
	status, _, _ := h.do("DELETE", h.url("/repos/a/b"), "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if got := h.up.Received(); len(got) != 1 || got[0].Method != "DELETE" {
		t.Fatalf("upstream saw %+v", got)
	}
	recs := h.records()
	if len(recs) != 1 || recs[0].Verdict != audit.VerdictWouldDeny || recs[0].Reason != "no writes in tests" {
		t.Fatalf("audit = %+v", recs)
	}
}

func TestReloadKeepsOldPolicyWhenNewOneFails(t *testing.T) {
	h := start(t, testPolicy)
	caFile := filepath.Join(h.dir, "upstream-ca.pem")
	cases := []struct{ name, policy, test, want string }{
		{"syntax error", "def check(req:\n", "", "ward.star"},
		{"missing secret", strings.Replace(testPolicy, `secrets.env("TOKEN")`, `secrets.env("NOPE")`, 1), "", "NOPE is not set"},
		{"own tests fail", strings.Replace(testPolicy, `return deny("no writes in tests")`, `return allow()`, 1),
			"load(\"ward.star\", \"check\")\ndef test_no_writes(t):\n    t.eq(check(http_request(\"DELETE\", \"https://UPSTREAM/x\")).allowed, False)\n", "test_no_writes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.writePolicy(tc.policy, caFile)
			if tc.test != "" {
				h.write("ward_test.star", strings.ReplaceAll(tc.test, "UPSTREAM", h.up.HostPort()))
				defer os.Remove(filepath.Join(h.dir, "ward_test.star"))
			}
			err := h.gw.Reload(context.Background())
			if !errors.Is(err, gateway.ErrRejected) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload error = %v, want rejection mentioning %q", err, tc.want)
			}
			if status, _, _ := h.do("DELETE", h.url("/x"), ""); status != http.StatusForbidden {
				t.Fatalf("after a rejected reload, DELETE got %d: the old policy is not serving", status)
			}
			if h.gw.Status().Error == "" {
				t.Error("status does not show the rejected reload")
			}
		})
	}
	// A good reload takes effect.
	h.writePolicy(strings.Replace(testPolicy, `return deny("no writes in tests")`, `return allow("now allowed")`, 1), caFile)
	if err := h.gw.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := h.do("DELETE", h.url("/x"), ""); status != 200 {
		t.Fatalf("after a good reload, DELETE got %d", status)
	}
}

func TestWatcherReloadsChangedPolicy(t *testing.T) {
	h := start(t, testPolicy)
	h.close()
	port := 0
	gw, err := gateway.Start(context.Background(), gateway.Options{
		Config: filepath.Join(h.dir, "ward.star"), StateDir: filepath.Join(h.dir, "state"), ProxyPort: &port,
		LogHandler: discard(), Resolver: resolver(), WatchInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close(context.Background())
	hash := gw.Status().Hash
	h.writePolicy(strings.Replace(testPolicy, "no writes in tests", "changed", 1), filepath.Join(h.dir, "upstream-ca.pem"))
	waitFor(t, "reload", func() bool { return gw.Status().Hash != hash })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogRedactionSurvivesSecretRotation: a reload that resolves a rotated
// secret file must keep redacting the old value (requests that started on
// the old policy still carry it), and the basic-auth encoding of an injected
// credential is redacted like the credential itself.
func TestLogRedactionSurvivesSecretRotation(t *testing.T) {
	const oldToken, newToken = "old-token-4b1d8e", "new-token-93ac07"
	h := start(t, `
http(name = "api", hosts = ["UPSTREAM"], inject = basic("bot", secrets.file("token.txt")),
     ca = secrets.file("CA_FILE"), on_request = lambda r: allow())
`, "token.txt", oldToken)
	h.write("token.txt", newToken)
	if err := h.gw.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	basic := func(s string) string { return base64.StdEncoding.EncodeToString([]byte("bot:" + s)) }
	logger := h.gw.Engine().Logger()
	logger.Warn("upstream said "+oldToken, "header", "Basic "+basic(oldToken))
	logger.Warn("upstream said "+newToken, "header", "Basic "+basic(newToken))
	logs := h.logs.String()
	for _, leak := range []string{oldToken, newToken, basic(oldToken), basic(newToken)} {
		if strings.Contains(logs, leak) {
			t.Errorf("log holds %q:\n%s", leak, logs)
		}
	}
}
