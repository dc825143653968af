package policy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
)

// Result is the outcome of one hook call.
type Result struct {
	Verdict action.Verdict
	// Err is the policy error behind a "policy error" denial, with its
	// Starlark backtrace. It goes to the gateway log, never to the agent.
	Err error
	// Elapsed is the time spent in the hook, judge waits excluded.
	Elapsed time.Duration
	// Judged is the time spent waiting for judges.
	Judged time.Duration
	// Judges are the answers of the judges the hook asked, in order.
	Judges []builtins.Consultation
}

// Call runs hook on act on a thread of its own, with the gateway's step
// limit and deadline. It never fails: a hook that raises, runs past its
// limits or returns something other than a verdict gives deny("policy
// error"), and the details are logged with the action's ID.
func (p *Policy) Call(ctx context.Context, hook starlark.Callable, act *action.Action) Result {
	thread := &starlark.Thread{Name: act.ID}
	thread.SetMaxExecutionSteps(p.Gateway.HookSteps)
	builtins.SetLogger(thread, p.logger, "action", act.ID, "endpoint", act.Endpoint)
	builtins.SetContext(thread, ctx)
	b := startBudget(thread, p.Gateway.HookTimeout)
	builtins.SetBudget(thread, b)
	consulted := &builtins.Consultations{}
	builtins.SetConsultations(thread, consulted)
	stop := context.AfterFunc(ctx, func() { thread.Cancel("the agent went away") })

	start := time.Now()
	res, err := starlark.Call(thread, hook, starlark.Tuple{NewActionValue(act)}, nil)
	total := time.Since(start)
	stop()
	judged := b.finish()

	r := Result{Elapsed: total - judged, Judged: judged, Judges: consulted.List()}
	if err == nil {
		if v, ok := res.(*builtins.Verdict); ok {
			r.Verdict = v.V
			r.Verdict.JudgeLatency = judged
			return r
		}
		err = fmt.Errorf("%s returned %s, want a verdict: return allow() or deny(reason)", hookName(hook), res.Type())
	}
	r.Err = describe(err)
	r.Verdict = action.Verdict{Reason: action.PolicyError, DecidedBy: "error", JudgeLatency: judged}
	logger := p.logger.With("action", act.ID, "endpoint", act.Endpoint)
	if ctx.Err() != nil {
		r.Verdict.Reason = "cancelled: the agent went away"
		logger.Info("hook cancelled; the agent went away", "hook", hookName(hook))
		return r
	}
	logger.Error("policy error; denied", "hook", hookName(hook), "error", r.Err.Error())
	return r
}

func hookName(hook starlark.Callable) string {
	if f, ok := hook.(*starlark.Function); ok {
		return fmt.Sprintf("%s (%s)", f.Name(), f.Position())
	}
	return hook.Name()
}

// budget cancels a thread when its time runs out, excluding paused spans.
type budget struct {
	mu        sync.Mutex
	thread    *starlark.Thread
	timeout   time.Duration
	remaining time.Duration
	resumed   time.Time
	pausedAt  time.Time
	depth     int
	judged    time.Duration
	timer     *time.Timer
}

func startBudget(thread *starlark.Thread, timeout time.Duration) *budget {
	b := &budget{thread: thread, timeout: timeout, remaining: timeout, resumed: time.Now()}
	b.timer = time.AfterFunc(timeout, b.expire)
	return b
}

func (b *budget) expire() {
	b.thread.Cancel(fmt.Sprintf("hook ran longer than hook_timeout (%s)", b.timeout))
}

// Pause stops the clock while a judge is consulted; calls nest.
func (b *budget) Pause() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.depth++; b.depth > 1 {
		return
	}
	now := time.Now()
	b.pausedAt = now
	if b.timer.Stop() {
		b.remaining -= now.Sub(b.resumed)
	}
}

// Resume restarts the clock with the time that was left.
func (b *budget) Resume() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.depth--; b.depth > 0 {
		return
	}
	now := time.Now()
	b.judged += now.Sub(b.pausedAt)
	b.resumed = now
	if b.remaining <= 0 {
		b.expire()
		return
	}
	b.timer.Reset(b.remaining)
}

// finish stops the clock and returns the time spent paused.
func (b *budget) finish() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.timer.Stop()
	return b.judged
}

// IsPolicyError reports whether r denied because the policy failed.
func (r Result) IsPolicyError() bool { return r.Err != nil }
