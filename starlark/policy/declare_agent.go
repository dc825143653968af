package policy

import (
	"encoding/json"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
)

// Agent is a local agent credential declared by agent(...). On local
// listeners, an agent that presents the password is this agent; when the
// policy declares any, agents must present one. On the tailnet, identity
// comes from the tailnet and declared agents are not consulted.
type Agent struct {
	Name     string
	Password *builtins.Secret
	Tags     []string
	Caps     map[string][]json.RawMessage
	Pos      string
}

// agent is the builtin agent.
//
//	def agent(name, password, tags = [], caps = {}):
//
// agent declares a local agent and the secret it presents to the gateway:
// the password of Proxy-Authorization: Basic (user name = the agent's name)
// on the proxy port, or the password of a database endpoint's login. tags
// and caps become agent.tags and agent.caps, as a tailnet would set them.
func (d *declarations) agent(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if _, err := builtins.Declaring(thread, b); err != nil {
		return nil, err
	}
	a := &Agent{}
	var tags *starlark.List
	var caps *starlark.Dict
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &a.Name, "password", &a.Password, "tags?", &tags, "caps?", &caps); err != nil {
		return nil, err
	}
	if !endpointName.MatchString(a.Name) || a.Name == "local" {
		return nil, fmt.Errorf("%s: name %q must be lowercase letters, digits, '_', '-' or '.' (and not \"local\")", b.Name(), a.Name)
	}
	if d.policy.Agent(a.Name) != nil {
		return nil, fmt.Errorf("%s: agent %q is declared twice", b.Name(), a.Name)
	}
	var err error
	if tags != nil {
		a.Tags, err = unpackStrings("tags", tags)
	}
	if err == nil && caps != nil {
		a.Caps, err = unpackCaps(caps)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	a.Pos = thread.CallFrame(1).Pos.String()
	d.policy.Agents = append(d.policy.Agents, a)
	return starlark.None, nil
}

// Agent returns the declared agent with the given name, or nil.
func (p *Policy) Agent(name string) *Agent {
	for _, a := range p.Agents {
		if a.Name == name {
			return a
		}
	}
	return nil
}
