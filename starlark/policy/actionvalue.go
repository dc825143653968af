package policy

import (
	"fmt"
	"slices"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/action"
)

// ActionValue is an action as hooks see it: the common attributes protocol,
// endpoint, id and agent, then the protocol's facts. It is read-only.
type ActionValue struct {
	act   *action.Action
	agent starlark.Value
}

// NewActionValue wraps act for a hook call.
func NewActionValue(act *action.Action) *ActionValue { return &ActionValue{act: act} }

// Action returns the wrapped action; judges use it to describe the request.
func (v *ActionValue) Action() *action.Action { return v.act }

var commonAttrs = []string{"agent", "endpoint", "id", "protocol"}

// Attr returns a common attribute or a fact.
func (v *ActionValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "protocol":
		return starlark.String(v.act.Protocol), nil
	case "endpoint":
		return starlark.String(v.act.Endpoint), nil
	case "id":
		return starlark.String(v.act.ID), nil
	case "agent":
		if v.agent == nil {
			v.agent = AgentValue(v.act.Agent)
		}
		return v.agent, nil
	}
	if v.act.Facts == nil {
		return nil, nil
	}
	return v.act.Facts.Attr(name)
}

// AttrNames lists the common attributes and the facts.
func (v *ActionValue) AttrNames() []string {
	names := slices.Clone(commonAttrs)
	if v.act.Facts != nil {
		names = append(names, v.act.Facts.AttrNames()...)
	}
	slices.Sort(names)
	return names
}

// String renders the action's summary.
func (v *ActionValue) String() string {
	if v.act.Facts == nil {
		return fmt.Sprintf("<%s action %s>", v.act.Protocol, v.act.ID)
	}
	return fmt.Sprintf("<%s action %s: %s>", v.act.Protocol, v.act.ID, v.act.Facts.Summary())
}

// Type is the protocol's name followed by "_action", e.g. "http_action".
func (v *ActionValue) Type() string { return v.act.Protocol + "_action" }

// Freeze is a no-op: actions are read-only.
func (v *ActionValue) Freeze() {}

// Truth is always true.
func (v *ActionValue) Truth() starlark.Bool { return true }

// Hash refuses: actions are not dict keys.
func (v *ActionValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", v.Type()) }

var _ starlark.HasAttrs = (*ActionValue)(nil)
