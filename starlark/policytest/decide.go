package policytest

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/starlark/policy"
)

// decideBuiltin is the test helper decide.
//
//	def decide(action):
//
// decide returns the verdict the gateway would reach on action: it calls
// the hook of the action's endpoint with the gateway's limits, and a hook
// that fails gives deny("policy error") instead of failing the test.
var decideBuiltin = starlark.NewBuiltin("decide", decide)

func decide(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var av *policy.ActionValue
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "action", &av); err != nil {
		return nil, err
	}
	p := policy.ThreadPolicy(thread)
	ctx := context.Background()
	if a := builtins.AskerOf(thread); a != nil {
		ctx = builtins.WithAsker(ctx, a) // the test's judge stubs
	}
	v, err := Decide(ctx, p, av.Action())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return builtins.NewVerdict(v), nil
}

// Decide runs the hook of act's endpoint as the gateway would.
func Decide(ctx context.Context, p *policy.Policy, act *action.Action) (action.Verdict, error) {
	if p == nil {
		return action.Verdict{}, fmt.Errorf("no policy loaded")
	}
	ep := p.Endpoint(act.Endpoint)
	if ep == nil {
		return action.Verdict{}, fmt.Errorf("no endpoint declares this action (%s); the gateway would deny it%s", act.Facts.Summary(), p.LoadAdvice())
	}
	return p.Call(ctx, ep.Hooks[ep.Hook], act).Verdict, nil
}
