package builtins

import (
	"context"
	"fmt"
	"time"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/action"
)

// Judge is a judge the policy declared with llm.judge, slack.approver or
// webhook.approver. In Starlark it is a value with one method:
//
//	def ask(action, note = "", timeout = None):   # returns a Verdict
//
// ask blocks the hook that calls it (and nothing else) until the judge
// answers, with the hook's own deadline paused; the wait is bounded by the
// judge's timeout (or the shorter timeout given here) and ends early, as a
// denial, when the agent goes away. Every failure is a denial whose reason
// says what failed. The judge itself is created when the policy loads; the
// gateway starts the service behind it, and `ward test` stubs it.
type Judge struct {
	Kind    string // "llm", "slack", "webhook" or "dashboard"
	Name    string // how verdicts and logs name it: "llm:gpt-4.1-mini", "slack:#agent-ops", …
	Pos     string // where it was declared
	Timeout time.Duration

	// Exactly the one of Kind is set.
	LLM     *LLMSpec
	Slack   *SlackSpec
	Webhook *WebhookSpec
	// Dashboard is set for dashboard.approver.
	Dashboard *DashboardSpec

	ask *starlark.Builtin
}

// Question is what a hook asks a judge.
type Question struct {
	Action  *action.Action
	Note    string
	Timeout time.Duration // the judge's, or shorter when ask(timeout = …) or a Hold says so
	// TimeoutReason, when set, is the reason of the denial if Timeout
	// passes (a Hold's bound rather than the judge's own timeout).
	TimeoutReason string
}

// Answer is a judge's verdict and what the audit log keeps about it (the
// model, tokens, the approval's ID, who decided…).
type Answer struct {
	Verdict action.Verdict
	Details map[string]any
}

// Asker answers the questions hooks put to judges. The gateway's asks the
// running services and never fails (a failure is a denial); the one of
// `ward test` answers with the test's stubs and fails on a judge that has
// none.
type Asker interface {
	Ask(ctx context.Context, j *Judge, q Question) (Answer, error)
}

const askerKey = "ward.asker"

type askerCtxKey struct{}

// SetAsker makes a the asker of judges on thread.
func SetAsker(thread *starlark.Thread, a Asker) { thread.SetLocal(askerKey, a) }

// WithAsker returns ctx carrying a; a hook thread whose context (see
// SetContext) carries an asker uses it when the thread has none of its own.
func WithAsker(ctx context.Context, a Asker) context.Context {
	return context.WithValue(ctx, askerCtxKey{}, a)
}

func askerOf(thread *starlark.Thread) Asker {
	if a, ok := thread.Local(askerKey).(Asker); ok {
		return a
	}
	a, _ := Context(thread).Value(askerCtxKey{}).(Asker)
	return a
}

// actionHolder is what hooks receive (policy.ActionValue).
type actionHolder interface{ Action() *action.Action }

// declareJudge completes j and registers it with the loading policy.
func declareJudge(thread *starlark.Thread, b *starlark.Builtin, j *Judge) (starlark.Value, error) {
	r, err := Declaring(thread, b)
	if err != nil {
		return nil, err
	}
	j.Pos = thread.CallFrame(1).Pos.String()
	j.ask = starlark.NewBuiltin(j.Name+".ask", j.askBuiltin)
	r.AddJudge(j)
	return j, nil
}

func (j *Judge) askBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		act     starlark.Value
		note    string
		timeout starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs("ask", args, kwargs, "action", &act, "note?", &note, "timeout?", &timeout); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	holder, ok := act.(actionHolder)
	if !ok {
		return nil, fmt.Errorf("%s: got %s, want the action the hook received", b.Name(), act.Type())
	}
	q := Question{Action: holder.Action(), Note: note, Timeout: j.Timeout}
	if timeout != starlark.None {
		d, err := unpackDuration(timeout)
		if err != nil {
			return nil, fmt.Errorf("%s: timeout: %v", b.Name(), err)
		}
		q.Timeout = min(d, j.Timeout)
	}
	asker := askerOf(thread)
	if asker == nil {
		return nil, fmt.Errorf("%s: no gateway is running to ask %s", b.Name(), j.Name)
	}
	hold := HoldOf(Context(thread))
	if hold != nil {
		rem := hold.remaining()
		if rem <= 0 {
			a := Answer{Verdict: action.Verdict{Reason: hold.Reason, DecidedBy: "timeout"}}
			consult(thread, j, a, 0)
			return NewVerdict(a.Verdict), nil
		}
		if rem < q.Timeout {
			q.Timeout, q.TimeoutReason = rem, hold.Reason
		}
	}
	type result struct {
		a   Answer
		err error
		d   time.Duration
	}
	r := OutsideBudget(thread, func() result {
		start := time.Now()
		a, err := asker.Ask(Context(thread), j, q)
		return result{a, err, time.Since(start)}
	})
	if hold != nil {
		hold.add(r.d)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), r.err)
	}
	consult(thread, j, r.a, r.d)
	return NewVerdict(r.a.Verdict), nil
}

// String renders the judge's name, e.g. <judge slack:#agent-ops>.
func (j *Judge) String() string { return "<judge " + j.Name + ">" }

// Type is "judge".
func (j *Judge) Type() string { return "judge" }

// Freeze is a no-op: judges are immutable.
func (j *Judge) Freeze() {}

// Truth is always true.
func (j *Judge) Truth() starlark.Bool { return true }

// Hash refuses: judges are not dict keys.
func (j *Judge) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: judge") }

// Attr returns ask or name.
func (j *Judge) Attr(name string) (starlark.Value, error) {
	switch name {
	case "ask":
		return j.ask, nil
	case "name":
		return starlark.String(j.Name), nil
	}
	return nil, nil
}

// AttrNames lists ask and name.
func (j *Judge) AttrNames() []string { return []string{"ask", "name"} }

var _ starlark.HasAttrs = (*Judge)(nil)

// AskerOf returns the asker of judges on thread (its own, or its
// context's), or nil.
func AskerOf(thread *starlark.Thread) Asker { return askerOf(thread) }
