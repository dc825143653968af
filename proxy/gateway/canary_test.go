package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/judges/llm/llmtest"
	"github.com/wardproject/ward/judges/slack/slackfake"
	"github.com/wardproject/ward/judges/webhook"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
)

// Canaries from each source: the environment, a file, Vault KV and a
// Vault lease.
const (
	envCanary   = "canary-env-openai-3d9f1"
	fileCanary  = "xoxb-canary-file-8b2e4"
	kvCanary    = "canary-vault-kv-5c7a0"
	hookSecret  = "canary-env-webhook-1f6b"
	slackAppEnv = "xapp-canary-env-92aa"
)

const judgesPolicy = `
vault.config(address = "VAULT_ADDR", auth = vault.token(secrets.env("VAULT_TOKEN")))

pii = llm.judge(model = "gpt-test", api_key = secrets.env("OPENAI_API_KEY"), base_url = "LLM_URL",
                prompt = "Deny if the comment contains personal data.")
ops = slack.approver(channel = "#agent-ops", bot_token = secrets.file("SLACK_BOT_FILE"),
                     app_token = secrets.env("SLACK_APP"), approvers = ["U0OPS"])
release = webhook.approver(url = "WEBHOOK_URL", secret = secrets.env("WEBHOOK_SECRET"))

def check(req):
    if req.path.startswith("/releases"):
        return release.ask(req)
    v = pii.ask(req)
    if v.allowed:
        return v
    return ops.ask(req, note = "the LLM objected: " + v.reason)

http(name = "api", hosts = ["UPSTREAM"], inject = bearer(vault.kv("kv/github", "token")),
     ca = secrets.file("CA_FILE"), on_request = check)
`

func TestCanariesFromEverySourceStayInTheGateway(t *testing.T) {
	v := newVault(t)
	v.Put("kv/", "github", map[string]any{"token": kvCanary})
	model := llmtest.New(t)
	model.Answer = func(r llmtest.Request) llmtest.Reply {
		if strings.Contains(r.Prompt(), "email") {
			return llmtest.Reply{Content: `{"decision":"deny","reason":"mentions an email address"}`}
		}
		return llmtest.Reply{Content: `{"decision":"allow","reason":"nothing personal"}`}
	}
	fake := slackfake.New(t)
	var hookMu sync.Mutex
	var hookBodies []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookBodies = append(hookBodies, string(body))
		hookMu.Unlock()
		if webhook.Verify(r.Header, []byte(hookSecret), body, time.Now()) != nil {
			http.Error(w, "bad signature", 401)
			return
		}
		var req webhook.Request
		json.Unmarshal(body, &req)
		out, _ := json.Marshal(webhook.Decision{ApprovalID: req.ApprovalID, Decision: "allow", DecidedBy: "release-bot"})
		ts := time.Now().Unix()
		w.Header().Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
		w.Header().Set(webhook.HeaderSignature, webhook.Sign([]byte(hookSecret), ts, out))
		w.Write(out)
	}))
	defer receiver.Close()

	dir := t.TempDir()
	botFile := filepath.Join(dir, "slack-bot-token")
	os.WriteFile(botFile, []byte(fileCanary+"\n"), 0o600)
	env := map[string]string{"VAULT_TOKEN": vaultToken, "OPENAI_API_KEY": envCanary, "SLACK_APP": slackAppEnv, "WEBHOOK_SECRET": hookSecret}
	policy := strings.NewReplacer("VAULT_ADDR", v.URL, "LLM_URL", model.BaseURL(), "SLACK_BOT_FILE", botFile,
		"WEBHOOK_URL", receiver.URL+"/approve").Replace(judgesPolicy)
	h := startWith(t, policy, func(o *gateway.Options) {
		o.SlackAPIURL, o.JudgeHTTPClient = fake.APIURL(), fake.Client()
		o.Resolver = builtins.Resolver{LookupEnv: func(n string) (string, bool) { v, ok := env[n]; return v, ok }}
	})

	// 1. The LLM allows a clean comment.
	if status, body, _ := h.do("POST", h.url("/comments"), `{"body":"LGTM"}`); status != 200 {
		t.Fatalf("clean comment: %d %s", status, body)
	}
	// 2. The LLM objects; a human approves in Slack.
	got := h.doAsync("POST", h.url("/comments"), `{"body":"write to me at a@b.example (email)"}`)
	a := h.pendingApproval(fake)
	if !strings.Contains(a.Note, "mentions an email address") {
		t.Errorf("note %q", a.Note)
	}
	fake.Interactive(slackfake.ClickPayload(a.ID, "U0OPS", true))
	if r := <-got; r.status != 200 {
		t.Fatalf("after approval: %d %s", r.status, r.body)
	}
	// 3. The release webhook answers in its response.
	if status, body, _ := h.do("POST", h.url("/releases"), `{"tag":"v1"}`); status != 200 {
		t.Fatalf("release: %d %s", status, body)
	}

	// The canaries did their jobs (or the test proves nothing).
	recv := h.up.Received()
	if len(recv) != 3 || recv[0].Header.Get("Authorization") != "Bearer "+kvCanary {
		t.Fatalf("upstream saw %+v", recv)
	}
	if reqs := model.Requests(); len(reqs) != 2 || reqs[0].Authorization != "Bearer "+envCanary {
		t.Fatalf("model saw %+v", reqs)
	}
	recs := h.records()
	var judged audit.Record
	for _, r := range recs {
		if r.DecidedBy == "slack:U0OPS" {
			judged = r
		}
	}
	if !strings.Contains(string(judged.Details), `"judge":"llm:gpt-test"`) || !strings.Contains(string(judged.Details), `"total_tokens":132`) ||
		!strings.Contains(string(judged.Details), `"judge":"slack:#agent-ops"`) || judged.JudgeMicros <= 0 {
		t.Errorf("judge details of the escalated action: %s", judged.Details)
	}
	h.close()

	canaries := []string{envCanary, fileCanary, kvCanary, hookSecret, slackAppEnv, vaultToken}
	var outside []string
	for _, r := range model.Requests() {
		outside = append(outside, "LLM prompt: "+r.Raw)
	}
	for _, c := range fake.Calls("") {
		outside = append(outside, "Slack "+c.Method+": "+c.Text())
	}
	hookMu.Lock()
	for _, b := range hookBodies {
		outside = append(outside, "webhook body: "+b)
	}
	hookMu.Unlock()
	outside = append(outside, "gateway log: "+h.logs.String())
	for _, r := range recs {
		data, _ := json.Marshal(r)
		outside = append(outside, "audit record: "+string(data))
	}
	for _, c := range canaries {
		for _, o := range outside {
			if strings.Contains(o, c) {
				t.Errorf("canary %s leaked into %.200s", c, o)
			}
		}
		assertNotInDir(t, filepath.Join(h.dir, "state"), c)
	}
}
