package builtins

import (
	"fmt"

	"go.starlark.net/starlark"
)

const registryKey = "ward.registry"

// Registry collects what a policy declares while it loads. Builtins that
// create secrets or judges add them here; outside loading there is no
// registry, and such builtins refuse to run (a hook must not create
// endpoints, secrets or judges per request).
type Registry interface {
	AddSecret(*Secret)
	// AddJudge records a judge (llm.judge, slack.approver, …).
	AddJudge(*Judge)
	// SetVault records vault.config; it fails when called twice.
	SetVault(*VaultConfig) error
}

// SetRegistry marks thread as loading a policy that collects into r.
func SetRegistry(thread *starlark.Thread, r Registry) { thread.SetLocal(registryKey, r) }

// Declaring returns the registry of a loading policy, or an error naming the
// builtin when called from a hook.
func Declaring(thread *starlark.Thread, b *starlark.Builtin) (Registry, error) {
	if r, ok := thread.Local(registryKey).(Registry); ok {
		return r, nil
	}
	return nil, fmt.Errorf("%s: can only be called while the policy loads (at the top level), not from a hook", b.Name())
}

// declareSecret registers s with the loading policy.
func declareSecret(thread *starlark.Thread, b *starlark.Builtin, s *Secret) (starlark.Value, error) {
	r, err := Declaring(thread, b)
	if err != nil {
		return nil, err
	}
	r.AddSecret(s)
	return s, nil
}
