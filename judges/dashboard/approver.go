// Package dashboard is the judge behind dashboard.approver: it holds the
// action in the gateway's durable approval queue until someone decides it
// in the web dashboard (proxy/dashboard), with `ward approve`/`ward deny`,
// or until its timeout passes. The dashboard reads the queue itself, so
// this judge sends nothing anywhere; whoever decides first wins.
package dashboard

import (
	"context"

	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/judges/approval"
)

// Approver is one dashboard.approver.
type Approver struct {
	queue *approval.Queue
	name  string
	// Opened is called when an approval starts waiting, so that open
	// dashboards show it at once; nil does nothing.
	Opened func()
}

// New returns the approver named name ("dashboard", "dashboard:dba") on
// queue.
func New(queue *approval.Queue, name string) *Approver {
	return &Approver{queue: queue, name: name}
}

// Name is the judge's name.
func (a *Approver) Name() string { return a.name }

// Decide holds the action until it is decided, times out, or the agent
// goes away; every outcome but an approval is a denial.
func (a *Approver) Decide(ctx context.Context, req judges.Request) judges.Outcome {
	w, err := a.queue.Open(ctx, approval.Request{Judge: a.name, Action: req.Action, Note: req.Note, Timeout: req.Timeout,
		TimeoutReason: req.TimeoutReason})
	if err != nil {
		return judges.Deny("error", a.name+": approval queue unavailable: "+err.Error(), nil)
	}
	if a.Opened != nil {
		a.Opened()
	}
	res := w.Wait(ctx)
	details := map[string]any{"approval_id": w.Approval.ID, "state": res.State, "decided_by": res.DecidedBy}
	return judges.Outcome{Verdict: approval.Verdict(res), Details: details}
}

var _ judges.Judge = (*Approver)(nil)
