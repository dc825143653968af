package builtins

import "go.starlark.net/starlark"

const budgetKey = "ward.budget"

// Budget is the time limit of one hook call. Builtins that wait for a judge
// pause it, so that judge waits are bounded by the judge's own timeout and
// not by the hook's deadline.
type Budget interface {
	Pause()
	Resume()
}

// SetBudget attaches the hook call's budget to thread.
func SetBudget(thread *starlark.Thread, b Budget) { thread.SetLocal(budgetKey, b) }

// OutsideBudget runs wait with the hook's deadline paused.
func OutsideBudget[T any](thread *starlark.Thread, wait func() T) T {
	b, ok := thread.Local(budgetKey).(Budget)
	if !ok {
		return wait()
	}
	b.Pause()
	defer b.Resume()
	return wait()
}
