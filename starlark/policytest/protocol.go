package policytest

import (
	"encoding/json"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/starlark/policy"
)

// Protocol is what `ward test` needs from a wire protocol.
type Protocol struct {
	// Name is the protocol's name in actions and fixtures: "http", …
	Name string
	// Builtins are the action constructors tests call, such as
	// http_request. They route with policy.ThreadPolicy.
	Builtins starlark.StringDict
	// Decode turns a fixture's raw action back into facts, through the same
	// decoder as live traffic, and names the endpoint that takes it.
	Decode func(p *policy.Policy, raw json.RawMessage) (*policy.Endpoint, action.Facts, error)
}
