package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/wardproject/ward/proxy/audit"
)

// Approvals is the gateway's approval queue as the dashboard uses it:
// read from the shared store, decided through the queue so that a waiter
// in this process is released at once.
type Approvals interface {
	ListApprovals(ctx context.Context, f audit.ApprovalFilter) ([]audit.Approval, error)
	GetApproval(ctx context.Context, id string) (audit.Approval, error)
	// Decide moves a pending approval to state, once; it returns the
	// approval as stored and whether this call decided it.
	Decide(id, state, by, reason string) (audit.Approval, bool, error)
}

// maxPending is the most pending approvals the dashboard lists.
const maxPending = 200

// maxReason is the longest reason a decider may give.
const maxReason = 1000

// pendingView is a pending approval as the feed lists it.
type pendingView struct {
	ID        string    `json:"id"`
	ActionID  string    `json:"action_id"`
	Judge     string    `json:"judge"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Agent     string    `json:"agent"`
	User      string    `json:"user,omitempty"`
	Endpoint  string    `json:"endpoint"`
	Protocol  string    `json:"protocol"`
	Summary   string    `json:"summary"`
	Note      string    `json:"note,omitempty"`
	CanDecide bool      `json:"can_decide"`
}

func (s *Server) pendingViews(id Identity, list []audit.Approval) []pendingView {
	acc := s.cfg.Access()
	out := make([]pendingView, 0, len(list))
	for _, a := range list {
		sum := a.Summary
		if len(sum) > maxSummary {
			sum = sum[:maxSummary] + "…"
		}
		out = append(out, pendingView{ID: a.ID, ActionID: a.ActionID, Judge: a.Judge, Created: a.Created, Expires: a.Expires,
			Agent: a.Agent.Name, User: a.Agent.User, Endpoint: a.Endpoint, Protocol: a.Protocol, Summary: sum, Note: a.Note,
			CanDecide: acc.mayDecide(id, a.Judge)})
	}
	return out
}

// pending lists the approvals waiting for a decision, oldest first.
func (s *Server) pending(ctx context.Context) ([]audit.Approval, error) {
	if s.cfg.Approvals == nil {
		return nil, nil
	}
	return s.cfg.Approvals.ListApprovals(ctx, audit.ApprovalFilter{State: audit.ApprovalPending, Limit: maxPending})
}

// watchApprovals publishes the pending approvals whenever the set (or a
// state) changes; the hub calls it on every tick.
func (s *Server) watchApprovals() watcher {
	var last string
	return func(ctx context.Context, publish func(event)) {
		list, err := s.pending(ctx)
		if err != nil {
			s.cfg.Logger.Warn("dashboard: cannot read pending approvals", "error", err)
			return
		}
		var sig strings.Builder
		for _, a := range list {
			sig.WriteString(a.ID + a.State + ",")
		}
		if sig.String() == last {
			return
		}
		last = sig.String()
		publish(event{kind: "approvals", data: list})
	}
}

// sendApprovals sends the current pending approvals to a new stream.
func (s *Server) sendApprovals(r *request, st *stream) error {
	list, err := s.pending(r.Context())
	if err != nil {
		s.cfg.Logger.Warn("dashboard: cannot read pending approvals", "error", err)
		return nil
	}
	return s.sendPending(r, st, list)
}

func (s *Server) sendPending(r *request, st *stream, list []audit.Approval) error {
	data, err := json.Marshal(s.pendingViews(r.id, list))
	if err != nil {
		return err
	}
	return st.send("approvals", "", string(s.mask(data)))
}

// deliverChange sends a change the hub noticed.
func (s *Server) deliverChange(r *request, st *stream, ev event) error {
	if list, ok := ev.data.([]audit.Approval); ok && ev.kind == "approvals" {
		return s.sendPending(r, st, list)
	}
	return nil
}

// approval fetches the approval named in the path.
func (s *Server) approval(r *request) (audit.Approval, error) {
	if s.cfg.Approvals == nil {
		return audit.Approval{}, errorf(http.StatusNotFound, "this gateway has no approval queue")
	}
	id := r.PathValue("id")
	a, err := s.cfg.Approvals.GetApproval(r.Context(), id)
	if errors.Is(err, audit.ErrNotFound) {
		return a, errorf(http.StatusNotFound, "no approval %s", id)
	}
	return a, err
}

// apiPending lists the pending approvals.
func (s *Server) apiPending(w http.ResponseWriter, r *request) error {
	list, err := s.pending(r.Context())
	if err != nil {
		return err
	}
	return s.writeJSON(w, http.StatusOK, s.pendingViews(r.id, list))
}

// approvalJSON is an approval as the API returns it.
type approvalJSON struct {
	audit.Approval
	Ref       json.RawMessage `json:"ref,omitempty"` // the judge's own reference stays inside
	CanDecide bool            `json:"can_decide"`
}

// apiApproval returns one approval, pending or decided.
func (s *Server) apiApproval(w http.ResponseWriter, r *request) error {
	a, err := s.approval(r)
	if err != nil {
		return err
	}
	return s.writeJSON(w, http.StatusOK, approvalJSON{Approval: a, CanDecide: a.Pending() && s.cfg.Access().mayDecide(r.id, a.Judge)})
}

// approvalView is what the approval page shows.
type approvalView struct {
	A         audit.Approval
	Facts     string
	CanDecide bool
	Why       string // why the viewer may not decide, when they may not
}

// approvalPage shows a held action with Approve and Deny, or its outcome.
func (s *Server) approvalPage(w http.ResponseWriter, r *request) error {
	a, err := s.approval(r)
	if err != nil {
		return err
	}
	v := approvalView{A: a, Facts: prettyJSON(a.Facts, maxShown)}
	if a.Pending() {
		v.CanDecide = s.cfg.Access().mayDecide(r.id, a.Judge)
		if !v.CanDecide {
			v.Why = r.id.Name() + " is not an approver of " + a.Judge
		}
	}
	return s.render(w, r, http.StatusOK, "approval", a.Summary, v)
}

// decide approves or denies a pending approval: form fields decision
// ("approve" or "deny") and reason (optional). The held action is
// released at once; the decision is recorded as "dashboard:<who>".
func (s *Server) decide(w http.ResponseWriter, r *request) error {
	if err := r.ParseForm(); err != nil {
		return errorf(http.StatusBadRequest, "cannot read the form: %v", err)
	}
	var state string
	switch r.PostForm.Get("decision") {
	case "approve":
		state = audit.ApprovalAllowed
	case "deny":
		state = audit.ApprovalDenied
	default:
		return errorf(http.StatusBadRequest, "decision must be \"approve\" or \"deny\"")
	}
	reason, err := cleanReason(r.PostForm.Get("reason"))
	if err != nil {
		return err
	}
	a, err := s.approval(r)
	if err != nil {
		return err
	}
	if !a.Pending() {
		return alreadyDecided(a)
	}
	if !s.cfg.Access().mayDecide(r.id, a.Judge) {
		s.cfg.Logger.Warn("dashboard: decision refused", "approval", a.ID, "login", r.id.Name(), "judge", a.Judge)
		return errorf(http.StatusForbidden, "%s is not an approver of %s: only its approvers may decide", r.id.Name(), a.Judge)
	}
	by := "dashboard:" + r.id.Name()
	if reason == "" {
		reason = map[string]string{audit.ApprovalAllowed: "approved", audit.ApprovalDenied: "denied"}[state] + " by " + r.id.Name() + " in the dashboard"
	}
	a, decided, err := s.cfg.Approvals.Decide(a.ID, state, by, reason)
	if err != nil {
		return err
	}
	if !decided {
		return alreadyDecided(a)
	}
	s.hub.poke()
	s.cfg.Logger.Info("approval decided in the dashboard", "approval", a.ID, "action", a.ActionID, "state", a.State, "by", by)
	if wantsJSON(r.Request) {
		return s.writeJSON(w, http.StatusOK, approvalJSON{Approval: a})
	}
	http.Redirect(w, r.Request, "/approvals/"+a.ID, http.StatusSeeOther)
	return nil
}

// alreadyDecided is the answer to deciding what someone else decided.
func alreadyDecided(a audit.Approval) error {
	msg := "approval " + a.ID + " was already decided: " + a.State
	if a.DecidedBy != "" {
		msg += " by " + a.DecidedBy
	}
	if a.Reason != "" {
		msg += " (" + a.Reason + ")"
	}
	return errorf(http.StatusConflict, "%s", msg)
}

// cleanReason trims a reason and refuses one that is too long; control
// characters become spaces (the agent reads the reason).
func cleanReason(s string) (string, error) {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
	if len(s) > maxReason {
		return "", errorf(http.StatusBadRequest, "reason is longer than %d bytes", maxReason)
	}
	return s, nil
}
