package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/judges/approval"
	"github.com/wardproject/ward/judges/webhook"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
)

const secret = "webhook-secret-canary"

// sign is the documented scheme, written independently of the package.
func sign(ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v1:" + strconv.FormatInt(ts, 10) + ":"))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

type env struct {
	t        *testing.T
	hub      *webhook.Hub
	callback *httptest.Server
	store    *audit.SQLiteStore
	got      chan webhook.Request
}

func newEnv(t *testing.T, respond func(w http.ResponseWriter, req webhook.Request)) (*env, *webhook.Approver) {
	store, err := audit.OpenSQLite(filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	q := approval.New(store, approval.Options{Owner: "gw", Logger: slog.New(slog.DiscardHandler)})
	e := &env{t: t, hub: webhook.NewHub(q, slog.New(slog.DiscardHandler)), store: store, got: make(chan webhook.Request, 4)}
	e.callback = httptest.NewServer(e.hub)
	t.Cleanup(e.callback.Close)
	e.hub.CallbackBase = e.callback.URL
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("X-Ward-Timestamp"), 10, 64)
		if r.Header.Get("X-Ward-Signature") != sign(ts, body) || time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Errorf("request signature does not verify with the documented scheme")
			http.Error(w, "bad signature", 401)
			return
		}
		var req webhook.Request
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("request body: %v", err)
		}
		e.got <- req
		respond(w, req)
	}))
	t.Cleanup(receiver.Close)
	a := e.hub.NewApprover(webhook.Config{Name: "webhook:" + receiver.URL + "/approve", URL: receiver.URL + "/approve?token=x", Secret: []byte(secret)})
	return e, a
}

func signedJSON(w http.ResponseWriter, v any) {
	body, _ := json.Marshal(v)
	ts := time.Now().Unix()
	w.Header().Set("X-Ward-Timestamp", strconv.FormatInt(ts, 10))
	w.Header().Set("X-Ward-Signature", sign(ts, body))
	w.Write(body)
}

func req(timeout time.Duration) judges.Request {
	return judges.Request{Action: &action.Action{ID: "a1", Protocol: "http", Endpoint: "github", Agent: action.Agent{Name: "bot"}},
		Note: "please", Timeout: timeout}
}

func TestDecisionInTheResponse(t *testing.T) {
	e, a := newEnv(t, func(w http.ResponseWriter, r webhook.Request) {
		signedJSON(w, webhook.Decision{ApprovalID: r.ApprovalID, Decision: "allow", Reason: "ticket OPS-1", DecidedBy: "alice"})
	})
	o := a.Decide(context.Background(), req(time.Minute))
	if !o.Verdict.Allowed || !strings.HasPrefix(o.Verdict.DecidedBy, "webhook:http://127.0.0.1") || o.Verdict.Reason != "approved by alice: ticket OPS-1" {
		t.Fatalf("outcome %+v", o)
	}
	r := <-e.got
	if r.Type != "ward.approval_request" || r.Action.Endpoint != "github" || r.Action.Note != "please" || !strings.HasPrefix(r.CallbackURL, e.callback.URL+"/webhook/approvals/p") {
		t.Errorf("request %+v", r)
	}
}

func TestDeferredDecisionOnTheCallback(t *testing.T) {
	e, a := newEnv(t, func(w http.ResponseWriter, r webhook.Request) { w.WriteHeader(http.StatusAccepted) })
	out := make(chan judges.Outcome, 1)
	go func() { out <- a.Decide(context.Background(), req(time.Minute)) }()
	r := <-e.got
	call := func(body any, ts int64, sig string) int {
		data, _ := json.Marshal(body)
		if sig == "" {
			sig = sign(ts, data)
		}
		hreq, _ := http.NewRequest("POST", r.CallbackURL, bytes.NewReader(data))
		hreq.Header.Set("X-Ward-Timestamp", fmt.Sprint(ts))
		hreq.Header.Set("X-Ward-Signature", sig)
		resp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now().Unix()
	deny := webhook.Decision{ApprovalID: r.ApprovalID, Decision: "deny", DecidedBy: "bob"}
	if code := call(deny, now, "v1=00"); code != http.StatusUnauthorized {
		t.Errorf("bad signature: %d", code)
	}
	if code := call(deny, now-int64(6*60), ""); code != http.StatusUnauthorized {
		t.Errorf("stale: %d", code)
	}
	if code := call(webhook.Decision{ApprovalID: "pOTHER", Decision: "allow"}, now, ""); code != http.StatusBadRequest {
		t.Errorf("replayed for another approval: %d", code)
	}
	if code := call(webhook.Decision{ApprovalID: r.ApprovalID, Decision: "yes"}, now, ""); code != http.StatusBadRequest {
		t.Errorf("bad decision: %d", code)
	}
	if code := call(deny, now, ""); code != http.StatusOK {
		t.Fatalf("valid callback: %d", code)
	}
	o := <-out
	if o.Verdict.Allowed || o.Verdict.Reason != "denied by bob" || !strings.HasPrefix(o.Verdict.DecidedBy, "webhook:") {
		t.Fatalf("outcome %+v", o)
	}
	if code := call(deny, now, ""); code != http.StatusNotFound && code != http.StatusConflict {
		t.Errorf("second callback: %d", code)
	}
}

func TestBadResponsesDeny(t *testing.T) {
	cases := map[string]func(w http.ResponseWriter, r webhook.Request){
		"unsigned": func(w http.ResponseWriter, r webhook.Request) {
			json.NewEncoder(w).Encode(webhook.Decision{ApprovalID: r.ApprovalID, Decision: "allow"})
		},
		"bad signature": func(w http.ResponseWriter, r webhook.Request) {
			w.Header().Set("X-Ward-Timestamp", fmt.Sprint(time.Now().Unix()))
			w.Header().Set("X-Ward-Signature", "v1=deadbeef")
			json.NewEncoder(w).Encode(webhook.Decision{ApprovalID: r.ApprovalID, Decision: "allow"})
		},
		"wrong approval": func(w http.ResponseWriter, r webhook.Request) {
			signedJSON(w, webhook.Decision{ApprovalID: "pother", Decision: "allow"})
		},
		"http 500": func(w http.ResponseWriter, r webhook.Request) { http.Error(w, "boom", 500) },
		"prose":    func(w http.ResponseWriter, r webhook.Request) { w.Write([]byte("sure, go ahead")) },
		"redirect": func(w http.ResponseWriter, r webhook.Request) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(307)
		},
	}
	for name, respond := range cases {
		t.Run(name, func(t *testing.T) {
			_, a := newEnv(t, respond)
			o := a.Decide(context.Background(), req(time.Minute))
			if o.Verdict.Allowed || o.Verdict.DecidedBy != "error" {
				t.Fatalf("outcome %+v", o)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	_, a := newEnv(t, func(w http.ResponseWriter, r webhook.Request) { w.WriteHeader(http.StatusAccepted) })
	o := a.Decide(context.Background(), req(100*time.Millisecond))
	if o.Verdict.Allowed || o.Verdict.DecidedBy != "timeout" {
		t.Fatalf("deferred, never called back: %+v", o)
	}
	_, a = newEnv(t, func(w http.ResponseWriter, r webhook.Request) { time.Sleep(time.Second) })
	start := time.Now()
	o = a.Decide(context.Background(), req(100*time.Millisecond))
	if o.Verdict.Allowed || time.Since(start) > 900*time.Millisecond {
		t.Fatalf("hanging webhook: %+v after %s", o, time.Since(start))
	}
}
