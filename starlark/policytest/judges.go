package policytest

import (
	"context"
	"fmt"
	"sync"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
)

// stubs answers judges in a *_test.star test with what t.judge set. A
// judge asked without a stub fails the test.
type stubs struct {
	t  *tValue
	mu sync.Mutex
	by map[*builtins.Judge]action.Verdict
}

// Ask answers with the stub, or fails the test.
func (s *stubs) Ask(_ context.Context, j *builtins.Judge, q builtins.Question) (builtins.Answer, error) {
	s.mu.Lock()
	v, ok := s.by[j]
	s.mu.Unlock()
	if !ok {
		msg := fmt.Sprintf("judge %s (declared at %s) was asked about %s but is not stubbed: "+
			"call t.judge(<judge>, \"allow\") or t.judge(<judge>, \"deny\", reason = \"…\") before", j.Name, j.Pos, summary(q.Action))
		s.t.addFailure(msg)
		return builtins.Answer{}, fmt.Errorf("%s", msg)
	}
	return builtins.Answer{Verdict: v, Details: map[string]any{"stub": true}}, nil
}

func summary(act *action.Action) string {
	if act == nil || act.Facts == nil {
		return "an action"
	}
	return act.Facts.Summary()
}

// judge is t.judge.
//
//	def t.judge(judge, verdict, reason = "", decided_by = ""):
//
// t.judge makes judge answer verdict ("allow" or "deny") for the rest of
// the test, without asking anything. decided_by defaults to the judge's
// own kind of decider ("llm:<model>", "slack:stub", "webhook:<url>").
func (t *tValue) judge(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		j                   *builtins.Judge
		verdict, reason, by string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "judge", &j, "verdict", &verdict, "reason?", &reason, "decided_by?", &by); err != nil {
		return nil, err
	}
	if verdict != "allow" && verdict != "deny" {
		return nil, fmt.Errorf("%s: verdict must be \"allow\" or \"deny\", got %q", b.Name(), verdict)
	}
	if by == "" {
		by = j.Name
		if j.Kind == "slack" || j.Kind == "dashboard" {
			by = j.Kind + ":stub"
		}
	}
	if reason == "" {
		reason = j.Name + " (stub) says " + verdict
	}
	t.stubs.mu.Lock()
	t.stubs.by[j] = action.Verdict{Allowed: verdict == "allow", Reason: reason, DecidedBy: by}
	t.stubs.mu.Unlock()
	return starlark.None, nil
}

// JudgeAnswer is one judge's answer as a fixture records it.
type JudgeAnswer struct {
	Judge     string `json:"judge"`
	Allowed   bool   `json:"allowed"`
	Reason    string `json:"reason,omitempty"`
	DecidedBy string `json:"decided_by,omitempty"`
}

// replay answers judges in a fixture with the answers recorded in it, in
// order for each judge.
type replay struct {
	mu      sync.Mutex
	answers []JudgeAnswer
	used    []bool
	missing []string
}

// Ask answers with the next unused recorded answer of j.
func (r *replay) Ask(_ context.Context, j *builtins.Judge, q builtins.Question) (builtins.Answer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, a := range r.answers {
		if a.Judge == j.Name && !r.used[i] {
			r.used[i] = true
			return builtins.Answer{Verdict: action.Verdict{Allowed: a.Allowed, Reason: a.Reason, DecidedBy: a.DecidedBy}}, nil
		}
	}
	msg := fmt.Sprintf("the policy asked judge %s about %s, but the fixture recorded no (further) answer from it", j.Name, summary(q.Action))
	r.missing = append(r.missing, msg)
	return builtins.Answer{}, fmt.Errorf("%s", msg)
}
