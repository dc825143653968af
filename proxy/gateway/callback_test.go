package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/judges/slack/slackfake"
	"github.com/wardproject/ward/judges/webhook"
	"github.com/wardproject/ward/proxy/gateway"
)

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestCallbackPort(t *testing.T) {
	const secret = "cb-webhook-secret"
	deferred := make(chan webhook.Request, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req webhook.Request
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &req)
		deferred <- req
		w.WriteHeader(http.StatusAccepted)
	}))
	defer receiver.Close()
	fake := slackfake.New(t)
	policy := `
gateway(callback_port = CBPORT)
hook = webhook.approver(url = "RECEIVER_URL", secret = secrets.env("HOOK_SECRET"))
ops = slack.approver(channel = "#ops", bot_token = secrets.env("BOT"), signing_secret = secrets.env("SIGNING"), approvers = ["U0OPS"])
def check(req):
    if req.path == "/hook":
        return hook.ask(req)
    return ops.ask(req)
http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"), on_request = check)
`
	policy = strings.NewReplacer("CBPORT", freePort(t), "RECEIVER_URL", receiver.URL).Replace(policy)
	env := map[string]string{"HOOK_SECRET": secret, "BOT": "xoxb-1", "SIGNING": "slack-signing"}
	h := startWith(t, policy, func(o *gateway.Options) {
		o.SlackAPIURL, o.JudgeHTTPClient = fake.APIURL(), fake.Client()
		o.Resolver = builtins.Resolver{LookupEnv: func(n string) (string, bool) { v, ok := env[n]; return v, ok }}
	})
	cb := "http://" + h.gw.CallbackAddr().String()

	// A webhook that decides later, on the gateway's callback URL.
	got := h.doAsync("POST", h.url("/hook"), "x")
	req := <-deferred
	if req.CallbackURL != cb+"/webhook/approvals/"+req.ApprovalID {
		t.Fatalf("callback_url %q", req.CallbackURL)
	}
	body, _ := json.Marshal(webhook.Decision{ApprovalID: req.ApprovalID, Decision: "allow", DecidedBy: "carol"})
	post, _ := http.NewRequest("POST", req.CallbackURL, bytes.NewReader(body))
	webhook.SetSignature(post.Header, []byte(secret), body, time.Now())
	resp, err := http.DefaultClient.Do(post)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("callback: %v %v", resp, err)
	}
	if r := <-got; r.status != 200 {
		t.Fatalf("after the callback: %d %s", r.status, r.body)
	}

	// Slack HTTP interactivity on the same port.
	got = h.doAsync("POST", h.url("/slack"), "x")
	a := h.pendingApproval(fake)
	resp, err = http.DefaultClient.Do(slackfake.SignedRequest(cb+"/slack/interactivity", slackfake.ClickPayload(a.ID, "U0OPS", false), "wrong", time.Now()))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad signature: %v %v", resp, err)
	}
	resp, err = http.DefaultClient.Do(slackfake.SignedRequest(cb+"/slack/interactivity", slackfake.ClickPayload(a.ID, "U0OPS", false), "slack-signing", time.Now()))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("click: %v %v", resp, err)
	}
	if r := <-got; r.status != http.StatusForbidden || !strings.Contains(r.body, "denied in Slack") {
		t.Fatalf("after the click: %d %s", r.status, r.body)
	}
}

func TestHTTPInteractivityNeedsACallbackPort(t *testing.T) {
	dir := t.TempDir()
	h := &harness{t: t, dir: dir}
	h.write("ward.star", `ops = slack.approver(channel = "#ops", bot_token = secrets.env("B"), signing_secret = secrets.env("S"), approvers = ["U0OPS"])
http(name = "api", hosts = ["api.example"], on_request = lambda r: ops.ask(r))
`)
	port := 0
	_, err := gateway.Start(t.Context(), gateway.Options{Config: dir + "/ward.star", StateDir: dir + "/state", ProxyPort: &port,
		LogHandler: discard(), WatchInterval: -1, Resolver: builtins.Resolver{LookupEnv: func(string) (string, bool) { return "x", true }}})
	if err == nil || !strings.Contains(err.Error(), "set gateway(callback_port = N)") {
		t.Fatalf("error %v", err)
	}
}
