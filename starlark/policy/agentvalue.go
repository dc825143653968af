package policy

import (
	"encoding/json"
	"fmt"
	"slices"

	starlarkjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/wardproject/ward/protocols/action"
)

// AgentValue is the frozen struct an action's agent attribute holds: name,
// user, tags (a tuple of strings), addr, and caps (a dict from capability
// key to the list of values granted under it).
func AgentValue(a action.Agent) starlark.Value {
	tags := make(starlark.Tuple, len(a.Tags))
	for i, t := range a.Tags {
		tags[i] = starlark.String(t)
	}
	s := starlarkstruct.FromStringDict(starlark.String("agent"), starlark.StringDict{
		"name": starlark.String(a.Name),
		"user": starlark.String(a.User),
		"tags": tags,
		"addr": starlark.String(a.Addr),
		"caps": capsValue(a.Caps),
	})
	s.Freeze()
	return s
}

// capsValue converts merged caps to a frozen dict of lists. A value that is
// not JSON (which the transport never produces) becomes None rather than
// failing the hook.
func capsValue(caps map[string][]json.RawMessage) starlark.Value {
	d := starlark.NewDict(len(caps))
	keys := make([]string, 0, len(caps))
	for k := range caps {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vals := make([]starlark.Value, 0, len(caps[k]))
		for _, raw := range caps[k] {
			v, err := JSONValue(raw)
			if err != nil {
				v = starlark.None
			}
			vals = append(vals, v)
		}
		_ = d.SetKey(starlark.String(k), starlark.NewList(vals))
	}
	d.Freeze()
	return d
}

// UnpackAgent reads the agent argument of test helpers: None (the local
// identity), a name, or a dict with name, user, tags, addr and caps (a
// dict from key to a value or a list of values, as AgentValue shows them).
func UnpackAgent(v starlark.Value) (action.Agent, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return action.LocalAgent(""), nil
	case starlark.String:
		return action.Agent{Name: string(v), User: string(v)}, nil
	case *starlark.Dict:
		return unpackAgentDict(v)
	}
	return action.Agent{}, fmt.Errorf("agent must be None, a name or a dict, got %s", v.Type())
}

func unpackAgentDict(d *starlark.Dict) (action.Agent, error) {
	var a action.Agent
	for _, item := range d.Items() {
		key, _ := starlark.AsString(item[0])
		var err error
		switch key {
		case "name", "user", "addr":
			s, ok := starlark.AsString(item[1])
			if !ok {
				return a, fmt.Errorf("agent %s must be a string", key)
			}
			*map[string]*string{"name": &a.Name, "user": &a.User, "addr": &a.Addr}[key] = s
		case "tags":
			a.Tags, err = unpackStrings("agent tags", item[1])
		case "caps":
			a.Caps, err = unpackCaps(item[1])
		default:
			return a, fmt.Errorf("agent has no field %q (name, user, tags, addr, caps)", key)
		}
		if err != nil {
			return a, err
		}
	}
	if a.Name == "" {
		return a, fmt.Errorf("agent needs a name")
	}
	if a.User == "" {
		a.User = a.Name
	}
	return a, nil
}

// unpackStrings reads a list or tuple of strings; what names it in errors.
func unpackStrings(what string, v starlark.Value) ([]string, error) {
	it, ok := v.(starlark.Iterable)
	if !ok || isString(v) {
		return nil, fmt.Errorf("%s must be a list of strings", what)
	}
	iter := it.Iterate()
	defer iter.Done()
	var out []string
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of strings, got a %s", what, x.Type())
		}
		out = append(out, s)
	}
	return out, nil
}

// unpackCaps reads {"key": value or [values]} into merged caps.
func unpackCaps(v starlark.Value) (map[string][]json.RawMessage, error) {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return nil, fmt.Errorf("agent caps must be a dict, got %s", v.Type())
	}
	caps := make(map[string][]json.RawMessage, d.Len())
	for _, item := range d.Items() {
		key, ok := starlark.AsString(item[0])
		if !ok {
			return nil, fmt.Errorf("agent caps keys must be strings")
		}
		vals := []starlark.Value{item[1]}
		if l, ok := item[1].(*starlark.List); ok {
			vals = vals[:0]
			for i := range l.Len() {
				vals = append(vals, l.Index(i))
			}
		}
		for _, x := range vals {
			raw, err := encodeJSON(x)
			if err != nil {
				return nil, fmt.Errorf("agent caps[%q]: %w", key, err)
			}
			caps[key] = append(caps[key], raw)
		}
	}
	return caps, nil
}

// EncodeJSON encodes a Starlark value as compact JSON, as json.encode
// does (test helpers take bodies as dicts, say).
func EncodeJSON(v starlark.Value) (string, error) {
	thread := &starlark.Thread{Name: "encode"}
	out, err := starlark.Call(thread, starlarkjson.Module.Members["encode"], starlark.Tuple{v}, nil)
	if err != nil {
		return "", err
	}
	s, _ := starlark.AsString(out)
	return s, nil
}

// encodeJSON is EncodeJSON for values kept as JSON.
func encodeJSON(v starlark.Value) (json.RawMessage, error) {
	s, err := EncodeJSON(v)
	return json.RawMessage(s), err
}

func isString(v starlark.Value) bool {
	_, ok := v.(starlark.String)
	return ok
}
