package builtins

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/wardproject/ward/protocols/action"
)

// Verdict is the Starlark value of an action.Verdict: what a hook returns.
// It is immutable and has the attributes allowed, reason and decided_by.
type Verdict struct{ V action.Verdict }

// NewVerdict wraps v for Starlark.
func NewVerdict(v action.Verdict) *Verdict { return &Verdict{V: v} }

// Allow is the builtin allow.
//
//	def allow(reason = ""):
//
// allow returns a Verdict that lets the action through. The reason is
// recorded in the audit log.
var Allow = starlark.NewBuiltin("allow", allow)

func allow(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reason string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "reason?", &reason); err != nil {
		return nil, err
	}
	return NewVerdict(action.Allow(reason)), nil
}

// Deny is the builtin deny.
//
//	def deny(reason):
//
// deny returns a Verdict that stops the action. The reason is shown to the
// agent and recorded in the audit log.
var Deny = starlark.NewBuiltin("deny", deny)

func deny(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reason string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "reason", &reason); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, fmt.Errorf("%s: reason must not be empty: say why, the agent reads it", b.Name())
	}
	return NewVerdict(action.Deny(reason)), nil
}

// String returns a Starlark-like rendering, e.g. deny("no writes"), with
// the decider when it is not the policy: allow("ok", decided_by =
// "slack:U123").
func (v *Verdict) String() string {
	name := "deny"
	if v.V.Allowed {
		name = "allow"
	}
	if v.V.DecidedBy != "" && v.V.DecidedBy != "policy" {
		return fmt.Sprintf("%s(%q, decided_by = %q)", name, v.V.Reason, v.V.DecidedBy)
	}
	return fmt.Sprintf("%s(%q)", name, v.V.Reason)
}

// Type is "verdict".
func (v *Verdict) Type() string { return "verdict" }

// Freeze is a no-op: verdicts are immutable.
func (v *Verdict) Freeze() {}

// Truth is true for an allowing verdict.
func (v *Verdict) Truth() starlark.Bool { return starlark.Bool(v.V.Allowed) }

// Hash hashes the verdict's fields.
func (v *Verdict) Hash() (uint32, error) {
	h, _ := starlark.String(v.V.Reason + "\x00" + v.V.DecidedBy).Hash()
	if v.V.Allowed {
		h = ^h
	}
	return h, nil
}

// Attr returns allowed, reason or decided_by.
func (v *Verdict) Attr(name string) (starlark.Value, error) {
	switch name {
	case "allowed":
		return starlark.Bool(v.V.Allowed), nil
	case "reason":
		return starlark.String(v.V.Reason), nil
	case "decided_by":
		return starlark.String(v.V.DecidedBy), nil
	}
	return nil, nil
}

// AttrNames lists the verdict's attributes.
func (v *Verdict) AttrNames() []string { return []string{"allowed", "decided_by", "reason"} }

// CompareSameType supports == and != between verdicts.
func (v *Verdict) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	w := y.(*Verdict)
	eq := v.V.Allowed == w.V.Allowed && v.V.Reason == w.V.Reason && v.V.DecidedBy == w.V.DecidedBy
	switch op {
	case syntax.EQL:
		return eq, nil
	case syntax.NEQ:
		return !eq, nil
	}
	return false, fmt.Errorf("%s %s %s not supported", v.Type(), op, y.Type())
}

var (
	_ starlark.HasAttrs   = (*Verdict)(nil)
	_ starlark.Comparable = (*Verdict)(nil)
)
