package webhook_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/judges/judgestest"
	"github.com/wardproject/ward/judges/webhook"
)

// A receiver is never asked to approve an action it would see only the
// start of: the part cut off could be anything.
func TestActionTooLargeToSendIsDenied(t *testing.T) {
	e, a := newEnv(t, func(w http.ResponseWriter, r webhook.Request) {
		signedJSON(w, webhook.Decision{ApprovalID: r.ApprovalID, Decision: "allow"})
	})
	r := req(time.Minute)
	r.Action.Facts = judgestest.Facts{SQL: "SELECT 1 /* " + strings.Repeat("x", 70<<10) + " */; DROP TABLE users"}
	o := a.Decide(context.Background(), r)
	if o.Verdict.Allowed || o.Verdict.DecidedBy != "error" || !strings.Contains(o.Verdict.Reason, "too large") {
		t.Fatalf("outcome %+v, want a denial saying the action is too large", o)
	}
	select {
	case got := <-e.got:
		t.Fatalf("the receiver was asked about a cut action: %+v", got.Action.Summary)
	default:
	}
}

// Decisions are read as strictly as the LLM's answers: a body that Go's
// lenient decoding would read one way and the receiver's code another
// (a key in another case, a repeated key, a second object) is refused.
func TestAmbiguousDecisionsDeny(t *testing.T) {
	bodies := map[string]func(id string) string{
		"key in another case": func(id string) string {
			return `{"approval_id":"` + id + `","decision":"deny","Decision":"allow"}`
		},
		"repeated key": func(id string) string {
			return `{"approval_id":"` + id + `","decision":"deny","decision":"allow"}`
		},
		"second object": func(id string) string {
			return `{"approval_id":"` + id + `","decision":"allow"}{"decision":"deny"}`
		},
		"not a string": func(id string) string {
			return `{"approval_id":"` + id + `","decision":"allow","reason":7}`
		},
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			_, a := newEnv(t, func(w http.ResponseWriter, r webhook.Request) {
				data := []byte(body(r.ApprovalID))
				ts := time.Now().Unix()
				w.Header().Set("X-Ward-Timestamp", strconv.FormatInt(ts, 10))
				w.Header().Set("X-Ward-Signature", sign(ts, data))
				w.Write(data)
			})
			if o := a.Decide(context.Background(), req(time.Minute)); o.Verdict.Allowed || o.Verdict.DecidedBy != "error" {
				t.Fatalf("outcome %+v", o)
			}
		})
	}
}

// An empty key signs nothing: with it anyone could forge a decision.
func TestEmptySecretVerifiesNothing(t *testing.T) {
	now := time.Now()
	body := []byte(`{"approval_id":"p1","decision":"allow"}`)
	h := http.Header{}
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(webhook.HeaderSignature, webhook.Sign(nil, now.Unix(), body))
	if err := webhook.Verify(h, nil, body, now); err == nil {
		t.Fatal("a signature under an empty secret verified")
	}
}

// A 200 that says "pending" when the gateway has no callback port to
// receive the decision is a denial now, as a 202 is, not a wait for the
// whole timeout.
func TestPendingWithoutACallbackDeniesAtOnce(t *testing.T) {
	e, a := newEnv(t, func(w http.ResponseWriter, r webhook.Request) {
		signedJSON(w, webhook.Decision{ApprovalID: r.ApprovalID, Decision: "pending"})
	})
	e.hub.CallbackBase = ""
	start := time.Now()
	o := a.Decide(context.Background(), req(5*time.Second))
	if o.Verdict.Allowed || o.Verdict.DecidedBy != "error" || time.Since(start) > 2*time.Second {
		t.Fatalf("outcome %+v after %s", o.Verdict, time.Since(start))
	}
}
