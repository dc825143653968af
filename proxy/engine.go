package proxy

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// Engine decides and records actions for every protocol handler.
type Engine struct {
	snap    atomic.Pointer[Snapshot]
	journal *audit.Journal
	logger  *slog.Logger
	now     func() time.Time // allow overriding time for tests
	key     []byte           // keys agent proofs (action.Agent.Proof)
}

// NewEngine returns an engine that records into journal and serves snap.
func NewEngine(journal *audit.Journal, snap *Snapshot, logger *slog.Logger) *Engine {
	e := &Engine{journal: journal, logger: logger, now: time.Now, key: make([]byte, 32)}
	_, _ = rand.Read(e.key) // crypto/rand.Read never fails
	e.snap.Store(snap)
	return e
}

// Snapshot returns the policy being served. A handler takes it once per
// action and uses it throughout.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// Publish makes snap the policy served from now on.
func (e *Engine) Publish(snap *Snapshot) { e.snap.Store(snap) }

// Logger is the gateway's logger.
func (e *Engine) Logger() *slog.Logger { return e.logger }

// Decision is what a handler does with an action.
type Decision struct {
	Verdict action.Verdict
	// Forward is true when the action goes upstream: it was allowed, or
	// the gateway is in observe mode.
	Forward bool
	// Recorded is the verdict as written to the audit log: allow, deny or
	// would_deny.
	Recorded string
}

// NewAction starts an action with a fresh ID and the current time.
func (e *Engine) NewAction(protocol, endpoint string, agent action.Agent) *action.Action {
	return &action.Action{ID: action.NewID(), Time: e.now(), Protocol: protocol, Endpoint: endpoint, Agent: agent}
}

// Decide calls the endpoint's hook on act and appends the action and its
// verdict to the audit journal before returning. When the journal cannot
// be written the error is returned and the action must not be forwarded.
func (e *Engine) Decide(ctx context.Context, snap *Snapshot, ep *policy.Endpoint, hook string, act *action.Action) (Decision, error) {
	agent, stale := e.reidentify(snap, act.Agent)
	if stale != "" {
		// Not a policy verdict: observe mode does not let it through.
		v := action.Verdict{Reason: stale, DecidedBy: "gateway"}
		if err := e.Record(act, audit.VerdictDeny, v); err != nil {
			return Decision{}, err
		}
		return Decision{Verdict: v, Recorded: audit.VerdictDeny}, nil
	}
	act.Agent = agent
	fn, ok := ep.Hooks[hook]
	var res policy.Result
	if ok && fn != nil {
		if snap.Judges != nil {
			ctx = builtins.WithAsker(ctx, snap.Judges)
		}
		res = snap.Policy.Call(ctx, fn, act)
	} else {
		res.Verdict = action.Verdict{Reason: "endpoint " + ep.Name + " has no " + hook + " hook", DecidedBy: "error"}
	}
	d := Decision{Verdict: res.Verdict, Forward: res.Verdict.Allowed, Recorded: audit.VerdictAllow}
	if !res.Verdict.Allowed {
		d.Recorded = audit.VerdictDeny
		if snap.Policy.Gateway.Observe() {
			d.Forward, d.Recorded = true, audit.VerdictWouldDeny
		}
	}
	rec, err := e.record(act, d.Recorded, res.Verdict)
	if err != nil {
		return Decision{}, err
	}
	rec.PolicyMicros = res.Elapsed.Microseconds()
	rec.JudgeMicros = res.Judged.Microseconds()
	if len(res.Judges) > 0 {
		d := map[string]any{"judges": res.Judges}
		if h := builtins.HoldOf(ctx); h != nil {
			// How long the connection (a database session inside a
			// transaction) was held waiting for judges.
			d["hold"] = map[string]any{"connection": h.Connection, "max_us": h.Max.Microseconds(),
				"held_us": h.Used().Microseconds(), "connection_held_us": (h.Before + h.Used()).Microseconds()}
		}
		details, err := json.Marshal(d)
		if err != nil {
			e.logger.Error("encode judge details", "action", act.ID, "error", err)
		} else {
			rec.Details = details
		}
	}
	if err := e.journal.Append(rec); err != nil {
		e.logger.Error("audit journal write failed; action denied", "action", act.ID, "error", err)
		return Decision{}, fmt.Errorf("audit log unavailable")
	}
	return d, nil
}

// Record appends an action decided without the policy: refused as
// malformed or ambiguous, denied because no endpoint declares it, or
// tunnelled unparsed. It returns an error when the journal cannot be
// written; the action must then not be forwarded.
func (e *Engine) Record(act *action.Action, verdict string, v action.Verdict) error {
	rec, err := e.record(act, verdict, v)
	if err == nil {
		err = e.journal.Append(rec)
	}
	if err != nil {
		e.logger.Error("audit journal write failed", "action", act.ID, "error", err)
		return fmt.Errorf("audit log unavailable")
	}
	return nil
}

func (e *Engine) record(act *action.Action, verdict string, v action.Verdict) (*audit.Record, error) {
	rec := &audit.Record{
		ID: act.ID, Time: act.Time, Protocol: act.Protocol, Endpoint: act.Endpoint, Agent: act.Agent,
		Verdict: verdict, Reason: v.Reason, DecidedBy: v.DecidedBy,
	}
	if act.Facts != nil {
		rec.Summary = act.Facts.Summary()
		facts, err := encodeJSON(act.Facts)
		if err != nil {
			return nil, fmt.Errorf("encode facts of %s: %w", act.ID, err)
		}
		rec.Facts = facts
	}
	if act.Raw != nil {
		raw, err := encodeJSON(act.Raw)
		if err != nil {
			return nil, fmt.Errorf("encode raw action %s: %w", act.ID, err)
		}
		rec.Raw = raw
	}
	return rec, nil
}

// encodeJSON encodes v, calling its own MarshalJSON directly when it has
// one: json.Marshal would compact and re-validate the result, and the
// journal validates embedded JSON anyway.
func encodeJSON(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case json.RawMessage:
		return v, nil
	case json.Marshaler:
		return v.MarshalJSON()
	}
	return json.Marshal(v)
}

// Complete records the outcome of a forwarded action. A failure to write
// is logged; the action has already happened.
func (e *Engine) Complete(c audit.Completion) {
	if err := e.journal.Complete(c); err != nil {
		e.logger.Error("audit journal write failed for completion", "action", c.ID, "error", err)
	}
}
