package httprelay

import (
	"encoding/json"
	"fmt"

	"go.starlark.net/starlark"
)

// Unparsed is the facts of a request refused before it could be decoded.
// No hook sees it; the audit log does.
type Unparsed struct {
	Method string
	Target string // the request-target as sent
}

// Summary is the request line.
func (u *Unparsed) Summary() string { return u.Method + " " + u.Target }

// MarshalJSON encodes the facts for the audit log.
func (u *Unparsed) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"method": u.Method, "target": u.Target})
}

// Attr returns method or target.
func (u *Unparsed) Attr(name string) (starlark.Value, error) {
	switch name {
	case "method":
		return starlark.String(u.Method), nil
	case "target":
		return starlark.String(u.Target), nil
	}
	return nil, nil
}

// AttrNames lists the facts.
func (u *Unparsed) AttrNames() []string { return []string{"method", "target"} }

// String renders the summary.
func (u *Unparsed) String() string { return u.Summary() }

// Type is "unparsed_request".
func (u *Unparsed) Type() string { return "unparsed_request" }

// Freeze is a no-op.
func (u *Unparsed) Freeze() {}

// Truth is always true.
func (u *Unparsed) Truth() starlark.Bool { return true }

// Hash refuses.
func (u *Unparsed) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: unparsed_request") }
