// Package webhook is the webhook approval judge: it POSTs the action to a
// URL as JSON signed with HMAC-SHA256, and takes the decision from the
// response or, later, from a signed callback to the gateway. The wire
// format is documented in docs/judges.md.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/judges/approval"
	"github.com/wardproject/ward/proxy/audit"
)

// Limits of the exchange.
const (
	postTimeout  = 30 * time.Second
	maxBody      = 64 << 10
	factsLimit   = 64 << 10
	CallbackPath = "/webhook/approvals/" // + approval ID, on the callback port
)

// errJudgeTimeout is a POST cut short by the approval's own timeout.
var errJudgeTimeout = errors.New("the approval timed out while posting")

// Request is the JSON body POSTed to the webhook.
type Request struct {
	Type        string           `json:"type"` // "ward.approval_request"
	ApprovalID  string           `json:"approval_id"`
	ExpiresAt   time.Time        `json:"expires_at"`
	CallbackURL string           `json:"callback_url,omitempty"`
	Action      judges.Described `json:"action"`
}

// Decision is the JSON body of a decision, in the response or a callback.
type Decision struct {
	ApprovalID string `json:"approval_id"`
	Decision   string `json:"decision"` // "allow", "deny"; in a response also "pending"
	Reason     string `json:"reason,omitempty"`
	DecidedBy  string `json:"decided_by,omitempty"` // who, for the audit log
}

// Hub routes callbacks to the approvers waiting on them.
type Hub struct {
	queue  *approval.Queue
	logger *slog.Logger
	// CallbackBase is the gateway's callback address ("http://host:port");
	// empty when no callback port is configured (decisions must then come
	// back in the response).
	CallbackBase string
	// HTTPClient sends the requests; default a plain client.
	HTTPClient *http.Client
	Now        func() time.Time // allow overriding time for tests

	mu      sync.Mutex
	pending map[string]*Approver
}

// NewHub returns a hub deciding through queue.
func NewHub(queue *approval.Queue, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.Default()
	}
	return &Hub{queue: queue, logger: logger, pending: map[string]*Approver{}, Now: time.Now}
}

// Config is what webhook.approver declares, resolved.
type Config struct {
	Name   string // "webhook:https://…"
	URL    string
	Secret []byte
	Mask   judges.Masker
}

// Approver is one webhook.approver.
type Approver struct {
	hub *Hub
	cfg Config
}

// NewApprover returns an approver posting to cfg.URL.
func (h *Hub) NewApprover(cfg Config) *Approver { return &Approver{hub: h, cfg: cfg} }

// Decide posts the request and waits for the decision.
func (a *Approver) Decide(ctx context.Context, req judges.Request) judges.Outcome {
	h := a.hub
	desc := judges.Describe(req, factsLimit)
	if desc.Cut {
		// The receiver would approve what it saw the start of.
		return judges.Deny("error", fmt.Sprintf("%s: the action is too large to send whole (%d bytes of facts, at most %d)",
			a.cfg.Name, desc.FactsSize, factsLimit), map[string]any{"facts_bytes": desc.FactsSize})
	}
	w, err := h.queue.Open(ctx, approval.Request{Judge: a.cfg.Name, Action: req.Action, Note: req.Note, Timeout: req.Timeout, TimeoutReason: req.TimeoutReason})
	if err != nil {
		return judges.Deny("error", "approval queue unavailable: "+err.Error(), nil)
	}
	id := w.Approval.ID
	details := map[string]any{"approval_id": id}
	h.mu.Lock()
	h.pending[id] = a
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.pending, id)
		h.mu.Unlock()
	}()
	if d, err := a.post(ctx, w.Approval, desc, req.Timeout); errors.Is(err, errJudgeTimeout) || ctx.Err() != nil {
		// The judge's own timeout passed while posting, or the agent went
		// away: the wait below ends as a timeout or a cancellation.
	} else if err != nil {
		a.hub.queue.Decide(id, audit.ApprovalDenied, "error", a.cfg.Name+": "+a.cfg.Mask.Apply(err.Error()))
	} else if d.Decision != "pending" {
		a.decide(id, d)
	}
	res := w.Wait(ctx)
	details["state"], details["decided_by"] = res.State, res.DecidedBy
	return judges.Outcome{Verdict: approval.Verdict(res), Details: details}
}

// decide records a decision that came back; it reports whether the
// approval was still pending.
func (a *Approver) decide(id string, d Decision) (bool, error) {
	state, verb := audit.ApprovalDenied, "denied"
	if d.Decision == "allow" {
		state, verb = audit.ApprovalAllowed, "approved"
	}
	reason := d.Reason
	if reason == "" {
		reason = verb + " by the webhook"
		if d.DecidedBy != "" {
			reason = verb + " by " + d.DecidedBy
		}
	} else if d.DecidedBy != "" {
		reason = verb + " by " + d.DecidedBy + ": " + reason
	}
	_, decided, err := a.hub.queue.Decide(id, state, a.cfg.Name, a.cfg.Mask.Apply(reason))
	if err != nil {
		a.hub.logger.Error("webhook: cannot record a decision", "approval", id, "error", err)
	}
	return decided, err
}

// post sends the request; the response holds a decision or "pending".
func (a *Approver) post(ctx context.Context, ap audit.Approval, desc judges.Described, timeout time.Duration) (Decision, error) {
	body := Request{Type: "ward.approval_request", ApprovalID: ap.ID, ExpiresAt: ap.Expires.UTC(), Action: a.cfg.Mask.Described(desc)}
	if a.hub.CallbackBase != "" {
		body.CallbackURL = strings.TrimSuffix(a.hub.CallbackBase, "/") + CallbackPath + ap.ID
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Decision{}, fmt.Errorf("encode the request: %w", err)
	}
	data = []byte(a.cfg.Mask.Apply(string(data)))
	ctx, cancel := context.WithTimeout(ctx, min(postTimeout, timeout))
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.URL, bytes.NewReader(data))
	if err != nil {
		return Decision{}, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("User-Agent", "ward-webhook/1")
	SetSignature(hreq.Header, a.cfg.Secret, data, a.hub.Now())
	client := http.Client{}
	if a.hub.HTTPClient != nil {
		client = *a.hub.HTTPClient
	}
	// A redirect is an answer (denied), not a second place to send the
	// action to.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(hreq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			if timeout <= postTimeout {
				return Decision{}, errJudgeTimeout
			}
			return Decision{}, errors.New("the webhook did not answer in time")
		}
		return Decision{}, errors.New("the webhook is unreachable")
	}
	defer resp.Body.Close()
	rbody, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil || len(rbody) > maxBody {
		return Decision{}, errors.New("unreadable response")
	}
	errNoCallback := errors.New("the webhook deferred its decision but the gateway has no callback_port to receive it")
	switch {
	case resp.StatusCode == http.StatusAccepted:
		if body.CallbackURL == "" {
			return Decision{}, errNoCallback
		}
		return Decision{Decision: "pending"}, nil
	case resp.StatusCode != http.StatusOK:
		return Decision{}, fmt.Errorf("the webhook answered HTTP %d", resp.StatusCode)
	}
	if err := Verify(resp.Header, a.cfg.Secret, rbody, a.hub.Now()); err != nil {
		return Decision{}, fmt.Errorf("the webhook's response: %w", err)
	}
	d, err := parseDecision(rbody, ap.ID, true)
	if err != nil {
		return Decision{}, fmt.Errorf("the webhook's response: %w", err)
	}
	if d.Decision == "pending" && body.CallbackURL == "" {
		return Decision{}, errNoCallback
	}
	return d, nil
}

// parseDecision reads a decision strictly: one JSON object with only the
// fields of a Decision, each a string, once, in their exact spelling.
func parseDecision(body []byte, id string, mayDefer bool) (Decision, error) {
	m, err := judges.StrictObject(body, "approval_id", "decision", "reason", "decided_by")
	if err != nil {
		return Decision{}, fmt.Errorf("not a decision: %v", err)
	}
	d := Decision{ApprovalID: m["approval_id"], Decision: m["decision"], Reason: m["reason"], DecidedBy: m["decided_by"]}
	switch {
	case d.ApprovalID != id:
		return d, fmt.Errorf("decision is for approval %q, not %q", d.ApprovalID, id)
	case d.Decision == "allow" || d.Decision == "deny":
	case d.Decision == "pending" && mayDefer:
	default:
		return d, fmt.Errorf("decision %q is not \"allow\" or \"deny\"", d.Decision)
	}
	return d, nil
}

// ServeHTTP receives callbacks: POST /webhook/approvals/<id>.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, CallbackPath)
	if !ok || r.Method != http.MethodPost {
		http.Error(w, "POST "+CallbackPath+"<approval id>", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	h.mu.Lock()
	a := h.pending[id]
	h.mu.Unlock()
	if a == nil {
		http.Error(w, "no such pending approval", http.StatusNotFound)
		return
	}
	if err := Verify(r.Header, a.cfg.Secret, body, h.Now()); err != nil {
		h.logger.Warn("webhook: callback refused", "approval", id, "error", err, "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	d, err := parseDecision(body, id, false)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	decided, err := a.decide(id, d)
	switch {
	case err != nil:
		http.Error(w, "cannot record the decision", http.StatusServiceUnavailable)
		return
	case !decided:
		http.Error(w, "already decided", http.StatusConflict)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
}

var _ judges.Judge = (*Approver)(nil)
