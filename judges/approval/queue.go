// Package approval is the gateway's side of the durable approval queue:
// every wait for a human or a webhook is a row in the audit store
// (audit.ApprovalStore) that starts pending and is decided exactly once —
// by a Slack click, a webhook, `ward approve`/`ward deny` from another
// process, the judge's timeout, or the agent going away.
//
// The store is the single source of truth: whoever moves the row out of
// pending first wins, and every waiter returns the stored decision.
package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
)

// DefaultPoll is how often pending waits are checked against the store for
// decisions made by other processes.
const DefaultPoll = 500 * time.Millisecond

// storeTimeout bounds one store operation made on a wait's behalf.
const storeTimeout = 10 * time.Second

// Queue opens and decides approvals. It is safe for concurrent use.
type Queue struct {
	store  audit.ApprovalStore
	owner  string
	poll   time.Duration
	now    func() time.Time // allow overriding time for tests
	logger *slog.Logger

	mu           sync.Mutex
	waits        map[string]*Wait
	polling      bool
	closed       bool
	closedReason string // Shutdown's
}

// Options configure a Queue.
type Options struct {
	// Owner names this gateway in the store (its journal ID), so that a
	// restart closes only its own leftovers.
	Owner string
	// Poll is how often waits look for decisions made by other processes;
	// default DefaultPoll.
	Poll   time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// New returns a queue over store.
func New(store audit.ApprovalStore, opts Options) *Queue {
	q := &Queue{store: store, owner: opts.Owner, poll: opts.Poll, now: opts.Now, logger: opts.Logger, waits: map[string]*Wait{}}
	if q.poll <= 0 {
		q.poll = DefaultPoll
	}
	if q.now == nil {
		q.now = time.Now
	}
	if q.logger == nil {
		q.logger = slog.Default()
	}
	return q
}

// Request describes a new wait.
type Request struct {
	Judge   string // "slack:#agent-ops", "webhook:https://…"
	Action  *action.Action
	Note    string
	Timeout time.Duration
	// TimeoutReason replaces "no decision from … within …" when set.
	TimeoutReason string
}

// Wait is one pending approval that a judge waits on.
type Wait struct {
	q             *Queue
	Approval      audit.Approval // as created
	timeoutReason string
	done          chan struct{}
	result        audit.Approval
	once          sync.Once
}

// NewID returns a fresh approval ID: like an action ID, with a "p" prefix.
func NewID() string { return "p" + action.NewID()[1:] }

// Open records a pending approval for req and returns its wait.
func (q *Queue) Open(ctx context.Context, req Request) (*Wait, error) {
	act := req.Action
	now := q.now()
	a := audit.Approval{ID: NewID(), ActionID: act.ID, Owner: q.owner, Judge: req.Judge, Created: now,
		Expires: now.Add(req.Timeout), Protocol: act.Protocol, Endpoint: act.Endpoint, Agent: act.Agent,
		Note: req.Note, State: audit.ApprovalPending}
	if act.Facts != nil {
		a.Summary = act.Facts.Summary()
		if facts, err := json.Marshal(act.Facts); err == nil {
			a.Facts = facts
		}
	}
	w := &Wait{q: q, Approval: a, timeoutReason: req.TimeoutReason, done: make(chan struct{})}
	if q.isClosed() {
		return nil, errShuttingDown
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := q.store.CreateApproval(sctx, &a); err != nil {
		return nil, fmt.Errorf("record the pending approval: %w", err)
	}
	// Nobody knows the ID before Open returns, so the wait is registered
	// only now; a shutdown that came meanwhile closes the row at once.
	q.mu.Lock()
	if q.closed {
		reason := q.closedReason
		q.mu.Unlock()
		if _, _, err := q.store.DecideApproval(sctx, a.ID, audit.ApprovalDenied, "gateway", reason, q.now()); err != nil {
			q.logger.Warn("approval queue: cannot close an approval opened during shutdown", "approval", a.ID, "error", err)
		}
		return nil, errShuttingDown
	}
	q.waits[a.ID] = w
	q.mu.Unlock()
	q.startPolling()
	return w, nil
}

// errShuttingDown refuses new waits once Shutdown has begun.
var errShuttingDown = errors.New("the gateway is shutting down")

func (q *Queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// Decide moves the approval with id to state unless it was decided
// already, and wakes its waiter in this process. It returns the approval
// as stored and whether this call decided it.
func (q *Queue) Decide(id, state, by, reason string) (audit.Approval, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	a, decided, err := q.store.DecideApproval(ctx, id, state, by, reason, q.now())
	if err != nil {
		return a, false, err
	}
	q.wake(a)
	return a, decided, nil
}

// Get returns the stored approval.
func (q *Queue) Get(ctx context.Context, id string) (audit.Approval, error) {
	return q.store.GetApproval(ctx, id)
}

// Pending reports whether id is waited on in this process.
func (q *Queue) Pending(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.waits[id]
	return ok
}

// Wait blocks until the approval is decided, its timeout passes (it is
// then decided timed_out) or ctx ends (cancelled: the agent went away), and
// returns the stored decision. If the store cannot be written, it returns
// a denial saying so: the queue fails closed.
func (w *Wait) Wait(ctx context.Context) audit.Approval {
	timer := time.NewTimer(w.Approval.Expires.Sub(w.q.now()))
	defer timer.Stop()
	select {
	case <-w.done:
		return w.result
	case <-timer.C:
		reason := w.timeoutReason
		if reason == "" {
			reason = fmt.Sprintf("no decision from %s within %s", w.Approval.Judge, roundWait(w.Approval.Expires.Sub(w.Approval.Created)))
		}
		return w.finish(audit.ApprovalTimedOut, "timeout", reason)
	case <-ctx.Done():
		return w.finish(audit.ApprovalCancelled, "agent", "cancelled: the agent went away")
	}
}

// Verdict turns a decided approval into the verdict of the hook that
// waited: only "allowed" allows. A timeout is decided by "timeout"; a
// cancellation, the gateway's own denials (shutdown, restart, a store
// failure) and a decision that names nobody by "error".
func Verdict(a audit.Approval) action.Verdict {
	v := action.Verdict{Allowed: a.State == audit.ApprovalAllowed, Reason: a.Reason, DecidedBy: a.DecidedBy}
	switch {
	case a.State == audit.ApprovalTimedOut:
		v.DecidedBy = "timeout"
	case a.State == audit.ApprovalCancelled, v.DecidedBy == "gateway", v.DecidedBy == "":
		v.DecidedBy = "error"
	}
	return v
}

// roundWait shows a wait to the second, or to the millisecond when it is
// shorter than one ("within 0s" says nothing).
func roundWait(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// Done is closed when the approval has been decided.
func (w *Wait) Done() <-chan struct{} { return w.done }

func (w *Wait) finish(state, by, reason string) audit.Approval {
	a, _, err := w.q.Decide(w.Approval.ID, state, by, reason)
	if err != nil {
		w.q.logger.Error("approval store unavailable; denied", "approval", w.Approval.ID, "error", err)
		a = w.Approval
		a.State, a.DecidedBy, a.Reason, a.Decided = audit.ApprovalDenied, "error", "approval store unavailable", w.q.now()
		w.resolve(a)
	}
	<-w.done
	return w.result
}

func (w *Wait) resolve(a audit.Approval) {
	w.once.Do(func() {
		w.result = a
		w.q.forget(a.ID)
		close(w.done)
	})
}

// wake resolves the in-process waiter of a decided approval.
func (q *Queue) wake(a audit.Approval) {
	if a.Pending() {
		return
	}
	q.mu.Lock()
	w := q.waits[a.ID]
	q.mu.Unlock()
	if w != nil {
		w.resolve(a)
	}
}

func (q *Queue) forget(id string) {
	q.mu.Lock()
	delete(q.waits, id)
	q.mu.Unlock()
}

// startPolling runs the poller while there are waits.
func (q *Queue) startPolling() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.polling || len(q.waits) == 0 {
		return
	}
	q.polling = true
	go q.pollLoop()
}

// pollLoop picks up decisions made by other processes (`ward approve`,
// another replica) until no wait is left.
func (q *Queue) pollLoop() {
	t := time.NewTicker(q.poll)
	defer t.Stop()
	for range t.C {
		q.mu.Lock()
		ids := make([]string, 0, len(q.waits))
		for id := range q.waits {
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			q.polling = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		for _, id := range ids {
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			a, err := q.store.GetApproval(ctx, id)
			cancel()
			if err != nil {
				q.logger.Warn("approval queue: cannot read a pending approval", "approval", id, "error", err)
				continue
			}
			q.wake(a)
		}
	}
}

// Shutdown denies every approval this process still waits on, with
// reason, and refuses new ones.
func (q *Queue) Shutdown(reason string) {
	q.mu.Lock()
	q.closed, q.closedReason = true, reason
	waits := make([]*Wait, 0, len(q.waits))
	for _, w := range q.waits {
		waits = append(waits, w)
	}
	q.mu.Unlock()
	for _, w := range waits {
		w.finish(audit.ApprovalDenied, "gateway", reason)
	}
}

// Recover closes the approvals a previous run of this gateway left pending
// (it was killed while they waited) as denied with reason, and returns
// them so that judges can update their messages.
func (q *Queue) Recover(ctx context.Context, reason string) ([]audit.Approval, error) {
	return q.store.CloseOwnerPending(ctx, q.owner, audit.ApprovalDenied, "gateway", reason, q.now())
}

// SetRef records the judge's reference to its request (a Slack message).
func (q *Queue) SetRef(ctx context.Context, id string, ref json.RawMessage) error {
	return q.store.SetApprovalRef(ctx, id, ref)
}
