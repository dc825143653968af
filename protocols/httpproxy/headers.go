package httpproxy

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// Headers is a request's headers as hooks see them: a read-only mapping
// whose keys are case-insensitive. A header sent several times reads as its
// values joined with ", ". It supports `name in headers`, headers[name],
// headers.get(name, default), keys(), values(), items() and len().
type Headers struct {
	h    http.Header
	keys []string // lowercase, sorted
}

// NewHeaders wraps h, which must not change afterwards.
func NewHeaders(h http.Header) *Headers {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, strings.ToLower(k))
	}
	slices.Sort(keys)
	return &Headers{h: h, keys: keys}
}

func (hs *Headers) lookup(name string) (starlark.Value, bool) {
	vals, ok := hs.h[textproto.CanonicalMIMEHeaderKey(name)]
	if !ok {
		return nil, false
	}
	return starlark.String(strings.Join(vals, ", ")), true
}

// Get implements starlark.Mapping.
func (hs *Headers) Get(k starlark.Value) (starlark.Value, bool, error) {
	name, ok := k.(starlark.String)
	if !ok {
		return nil, false, fmt.Errorf("headers: key must be a string, got %s", k.Type())
	}
	v, found := hs.lookup(string(name))
	return v, found, nil
}

// Iterate yields the lowercase header names in sorted order.
func (hs *Headers) Iterate() starlark.Iterator { return &keyIterator{keys: hs.keys} }

// Len is the number of distinct header names.
func (hs *Headers) Len() int { return len(hs.keys) }

// Items returns (name, value) pairs, names lowercase.
func (hs *Headers) Items() []starlark.Tuple {
	items := make([]starlark.Tuple, len(hs.keys))
	for i, k := range hs.keys {
		v, _ := hs.lookup(k)
		items[i] = starlark.Tuple{starlark.String(k), v}
	}
	return items
}

// Attr provides the dict-like methods get, keys, values and items.
func (hs *Headers) Attr(name string) (starlark.Value, error) {
	switch name {
	case "get":
		return starlark.NewBuiltin("headers.get", hs.get), nil
	case "keys", "values", "items":
		return starlark.NewBuiltin("headers."+name, hs.listing), nil
	}
	return nil, nil
}

// AttrNames lists the methods.
func (hs *Headers) AttrNames() []string { return []string{"get", "items", "keys", "values"} }

func (hs *Headers) get(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &name, &dflt); err != nil {
		return nil, err
	}
	if v, ok := hs.lookup(name); ok {
		return v, nil
	}
	return dflt, nil
}

func (hs *Headers) listing(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	out := make([]starlark.Value, len(hs.keys))
	for i, item := range hs.Items() {
		switch b.Name() {
		case "headers.keys":
			out[i] = item[0]
		case "headers.values":
			out[i] = item[1]
		default:
			out[i] = item
		}
	}
	return starlark.NewList(out), nil
}

// String renders the headers like a dict.
func (hs *Headers) String() string {
	var b strings.Builder
	b.WriteString("headers({")
	for i, item := range hs.Items() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", item[0], item[1])
	}
	b.WriteString("})")
	return b.String()
}

// Type is "headers".
func (hs *Headers) Type() string { return "headers" }

// Freeze is a no-op: headers are read-only.
func (hs *Headers) Freeze() {}

// Truth is true when there is any header.
func (hs *Headers) Truth() starlark.Bool { return len(hs.keys) > 0 }

// Hash refuses: headers are not dict keys.
func (hs *Headers) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: headers") }

type keyIterator struct {
	keys []string
	i    int
}

func (it *keyIterator) Next(p *starlark.Value) bool {
	if it.i >= len(it.keys) {
		return false
	}
	*p = starlark.String(it.keys[it.i])
	it.i++
	return true
}

func (it *keyIterator) Done() {}

var (
	_ starlark.IterableMapping = (*Headers)(nil)
	_ starlark.HasAttrs        = (*Headers)(nil)
	_ starlark.Sequence        = (*Headers)(nil)
)
