package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
)

// slowJudge answers after a delay, or when the context ends.
type slowJudge struct {
	delay time.Duration
	asked []builtins.Question
}

func (s *slowJudge) Ask(ctx context.Context, j *builtins.Judge, q builtins.Question) (builtins.Answer, error) {
	s.asked = append(s.asked, q)
	select {
	case <-time.After(s.delay):
		return builtins.Answer{Verdict: action.Verdict{Allowed: true, Reason: "ok by " + j.Name, DecidedBy: "slack:U1"},
			Details: map[string]any{"approval_id": "p1"}}, nil
	case <-ctx.Done():
		return builtins.Answer{Verdict: action.Verdict{Reason: "cancelled: the agent went away", DecidedBy: "error"}}, nil
	}
}

const judgeSrc = `
gateway(hook_timeout = "100ms")
ops = slack.approver(channel = "#ops", bot_token = secrets.env("B"), app_token = secrets.env("A"), approvers = ["U0OPS1"], timeout = "1m")
def check(a):
    v = ops.ask(a, note = "by " + a.agent.name, timeout = "5s")
    return v
`

func TestJudgeWaitsAreOutsideTheHookDeadline(t *testing.T) {
	p, hook := loadHook(t, judgeSrc, "check")
	if len(p.Judges) != 1 || p.Judges[0].Name != "slack:#ops" || len(p.Secrets) != 2 {
		t.Fatalf("declared judges %+v secrets %+v", p.Judges, p.Secrets)
	}
	j := &slowJudge{delay: 300 * time.Millisecond} // longer than hook_timeout
	r := p.Call(builtins.WithAsker(context.Background(), j), hook, testAction())
	if r.Err != nil || !r.Verdict.Allowed || r.Verdict.DecidedBy != "slack:U1" {
		t.Fatalf("result %+v", r)
	}
	if r.Judged < 300*time.Millisecond || r.Elapsed > 100*time.Millisecond || r.Verdict.JudgeLatency != r.Judged {
		t.Errorf("judged %s elapsed %s", r.Judged, r.Elapsed)
	}
	if len(r.Judges) != 1 || r.Judges[0].Judge != "slack:#ops" || r.Judges[0].Details["approval_id"] != "p1" || r.Judges[0].LatencyMicros < 300000 {
		t.Errorf("consultations %+v", r.Judges)
	}
	if q := j.asked[0]; q.Note != "by bot" || q.Timeout != 5*time.Second || q.Action.ID != "a1" {
		t.Errorf("question %+v", q)
	}
}

func TestAgentGoneCancelsTheJudge(t *testing.T) {
	p, hook := loadHook(t, judgeSrc, "check")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	r := p.Call(builtins.WithAsker(ctx, &slowJudge{delay: time.Minute}), hook, testAction())
	if r.Verdict.Allowed || r.Verdict.Reason != "cancelled: the agent went away" || time.Since(start) > time.Second {
		t.Fatalf("result %+v after %s", r, time.Since(start))
	}
}

func TestAskingWithoutAGatewayIsAPolicyError(t *testing.T) {
	p, hook := loadHook(t, judgeSrc, "check")
	r := p.Call(context.Background(), hook, testAction())
	if r.Err == nil || r.Verdict.Reason != action.PolicyError {
		t.Fatalf("result %+v", r)
	}
}

func TestJudgesCannotBeDeclaredInAHook(t *testing.T) {
	p, hook := loadHook(t, `
def check(a):
    return llm.judge(model = "m", prompt = "p").ask(a)
`, "check")
	r := p.Call(context.Background(), hook, testAction())
	if r.Err == nil || !strings.Contains(r.Err.Error(), "only be called while the policy loads") {
		t.Fatalf("result %+v", r)
	}
}

func TestHoldBoundsJudgeWaits(t *testing.T) {
	p, hook := loadHook(t, `
ops = slack.approver(channel = "#ops", bot_token = secrets.env("B"), app_token = secrets.env("A"), approvers = ["U0OPS1"], timeout = "1m")
def check(a):
    first = ops.ask(a)
    return ops.ask(a)
`, "check")
	j := &timeoutJudge{}
	hold := &builtins.Hold{Max: 50 * time.Millisecond, Reason: "held inside a transaction longer than max_hold_in_transaction (50ms)"}
	ctx := builtins.WithHold(builtins.WithAsker(context.Background(), j), hold)
	r := p.Call(ctx, hook, testAction())
	if r.Verdict.Allowed || r.Verdict.Reason != hold.Reason || r.Verdict.DecidedBy != "timeout" {
		t.Fatalf("result %+v", r)
	}
	if len(j.asked) != 1 || j.asked[0].Timeout != 50*time.Millisecond || j.asked[0].TimeoutReason != hold.Reason {
		t.Fatalf("asked %+v: the second ask should not reach the judge", j.asked)
	}
	if hold.Used() < 50*time.Millisecond || len(r.Judges) != 2 {
		t.Errorf("used %s, consultations %+v", hold.Used(), r.Judges)
	}
}

// timeoutJudge waits out the question's timeout, as a judge nobody
// answers does.
type timeoutJudge struct{ asked []builtins.Question }

func (s *timeoutJudge) Ask(ctx context.Context, j *builtins.Judge, q builtins.Question) (builtins.Answer, error) {
	s.asked = append(s.asked, q)
	time.Sleep(q.Timeout)
	reason := q.TimeoutReason
	if reason == "" {
		reason = "no decision"
	}
	return builtins.Answer{Verdict: action.Verdict{Reason: reason, DecidedBy: "timeout"}}, nil
}
