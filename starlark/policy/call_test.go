package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
)

// load returns the policy and its global named hook.
func loadHook(t testing.TB, src, hook string) (*Policy, starlark.Callable) {
	t.Helper()
	p, err := Load(write(t, map[string]string{"ward.star": src}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn, ok := p.Globals[hook].(starlark.Callable)
	if !ok {
		t.Fatalf("no hook %s", hook)
	}
	return p, fn
}

func testAction() *action.Action {
	return &action.Action{ID: "a1", Protocol: "test", Endpoint: "ep", Agent: action.Agent{Name: "bot", User: "bot", Tags: []string{"tag:ci"}}}
}

func TestCallOutcomes(t *testing.T) {
	src := `
gateway(hook_timeout = "200ms", hook_steps = 100000)
def allows(a):
    return allow("fine")
def denies(a):
    return deny("no " + a.agent.name)
def raises(a):
    fail("boom")
def loops(a):
    while True:
        pass
def sleeps(a):
    x = 0
    for i in range(1000000000):
        x += i
def none(a):
    pass
def mutates(a):
    a.agent.tags.append("x")
def declares(a):
    return secrets.env("X")
def identity(a):
    return allow(",".join([a.id, a.protocol, a.endpoint, a.agent.name, a.agent.user] + list(a.agent.tags)))
`
	tests := []struct {
		hook, reason string
		allowed      bool
		policyErr    string
	}{
		{"allows", "fine", true, ""},
		{"denies", "no bot", false, ""},
		{"raises", action.PolicyError, false, "boom"},
		{"loops", action.PolicyError, false, "too many steps"},
		{"none", action.PolicyError, false, "returned NoneType, want a verdict"},
		{"mutates", action.PolicyError, false, "has no .append"},
		{"declares", action.PolicyError, false, "only be called while the policy loads"},
		{"identity", "a1,test,ep,bot,bot,tag:ci", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.hook, func(t *testing.T) {
			p, fn := loadHook(t, src, tt.hook)
			r := p.Call(context.Background(), fn, testAction())
			if r.Verdict.Allowed != tt.allowed || r.Verdict.Reason != tt.reason {
				t.Fatalf("verdict = %+v", r.Verdict)
			}
			if tt.policyErr == "" {
				if r.Err != nil || r.Verdict.DecidedBy != "policy" {
					t.Fatalf("unexpected policy error %v / decided_by %q", r.Err, r.Verdict.DecidedBy)
				}
				return
			}
			if r.Err == nil || !strings.Contains(r.Err.Error(), tt.policyErr) || r.Verdict.DecidedBy != "error" {
				t.Fatalf("policy error = %v, want %q", r.Err, tt.policyErr)
			}
		})
	}
}

func TestCallDeadline(t *testing.T) {
	p, fn := loadHook(t, `
gateway(hook_timeout = "100ms", hook_steps = 100000000000)
def slow(a):
    x = 0
    for i in range(1000000000):
        x += i
    return allow()
`, "slow")
	start := time.Now()
	r := p.Call(context.Background(), fn, testAction())
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("deadline not enforced: %s", elapsed)
	}
	if r.Err == nil || !strings.Contains(r.Err.Error(), "hook_timeout") {
		t.Fatalf("err = %v", r.Err)
	}
}

func TestCallCancelledByAgent(t *testing.T) {
	p, fn := loadHook(t, "def loops(a):\n    while True:\n        pass\n", "loops")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	p.Gateway.HookSteps = 1 << 62
	p.Gateway.HookTimeout = time.Minute
	r := p.Call(ctx, fn, testAction())
	if r.Verdict.Allowed || !strings.Contains(r.Verdict.Reason, "agent went away") {
		t.Fatalf("verdict = %+v", r.Verdict)
	}
}

// TestJudgeWaitsAreOutsideTheBudget: a builtin that waits with the budget
// paused does not trip the hook deadline, and its wait is reported.
func TestJudgeWaitsAreOutsideTheBudget(t *testing.T) {
	wait := starlark.NewBuiltin("wait", func(thread *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		return builtins.OutsideBudget(thread, func() starlark.Value {
			time.Sleep(150 * time.Millisecond)
			return builtins.NewVerdict(action.Verdict{Allowed: true, Reason: "judged", DecidedBy: "judge"})
		}), nil
	})
	path := write(t, map[string]string{"ward.star": "gateway(hook_timeout = \"50ms\")\ndef hook(a):\n    return wait()\n"})
	p, err := Load(path, Options{Predeclared: starlark.StringDict{"wait": wait}})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Call(context.Background(), p.Globals["hook"].(starlark.Callable), testAction())
	if !r.Verdict.Allowed || r.Verdict.DecidedBy != "judge" {
		t.Fatalf("verdict = %+v, err %v", r.Verdict, r.Err)
	}
	if r.Judged < 150*time.Millisecond || r.Elapsed > 50*time.Millisecond {
		t.Errorf("judged %s, elapsed %s", r.Judged, r.Elapsed)
	}
}

func BenchmarkCall(b *testing.B) {
	p, fn := loadHook(b, `
READS = ("GET", "HEAD")
def check(a):
    if a.protocol in READS:
        return allow()
    return deny("no")
`, "check")
	act := testAction()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p.Call(ctx, fn, act)
	}
}

// TestHookCannotChangeGatewaySettings: gateway() declares, like http(); a
// hook that calls it must not switch the running gateway to observe mode
// or to passing unknown hosts through.
func TestHookCannotChangeGatewaySettings(t *testing.T) {
	p, fn := loadHook(t, `
def sneaky(a):
    gateway(mode = "observe", unknown_hosts = "passthrough")
    return deny("no")
`, "sneaky")
	res := p.Call(context.Background(), fn, testAction())
	if res.Verdict.Allowed || res.Verdict.Reason != action.PolicyError {
		t.Errorf("verdict %+v, want the policy error", res.Verdict)
	}
	if p.Gateway.Observe() || p.Gateway.UnknownHosts != "deny" {
		t.Errorf("a hook changed the gateway settings: %+v", p.Gateway)
	}
}
