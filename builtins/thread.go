package builtins

import (
	"context"

	"go.starlark.net/lib/json"
	"go.starlark.net/lib/time"
	"go.starlark.net/starlark"
)

const contextKey = "ward.context"

// SetContext attaches the context of the action being decided to thread, so
// that builtins which wait (judges) stop when the agent goes away.
func SetContext(thread *starlark.Thread, ctx context.Context) { thread.SetLocal(contextKey, ctx) }

// Context returns the context attached by SetContext, or a background
// context while a policy is loading.
func Context(thread *starlark.Thread) context.Context {
	if ctx, ok := thread.Local(contextKey).(context.Context); ok {
		return ctx
	}
	return context.Background()
}

// Universe returns the builtins every policy file sees. Protocol endpoint
// declarations (http, postgres, …) and gateway() are added by the policy
// loader; test helpers by `ward test`.
func Universe() starlark.StringDict {
	return starlark.StringDict{
		"allow":     Allow,
		"deny":      Deny,
		"bearer":    Bearer,
		"basic":     Basic,
		"header":    Header,
		"secrets":   Secrets,
		"log":       Log,
		"json":      json.Module,
		"time":      time.Module,
		"re":        NewRe(),
		"llm":       LLM,
		"slack":     Slack,
		"webhook":   Webhook,
		"vault":     Vault,
		"dashboard": Dashboard,
	}
}
