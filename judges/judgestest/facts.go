// Package judgestest holds what the judges' tests share.
package judgestest

import (
	"encoding/json"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/action"
)

// Facts is an action's facts for judge tests: a statement whose summary
// is SQL and whose JSON is {"sql": SQL}, or JSON when set.
type Facts struct {
	SQL  string
	JSON string
}

// Attr has no attributes.
func (f Facts) Attr(string) (starlark.Value, error) { return nil, nil }

// AttrNames lists none.
func (f Facts) AttrNames() []string { return nil }

// String is the SQL.
func (f Facts) String() string { return f.SQL }

// Type is "facts".
func (f Facts) Type() string { return "facts" }

// Freeze does nothing.
func (f Facts) Freeze() {}

// Truth is true.
func (f Facts) Truth() starlark.Bool { return true }

// Hash is 0.
func (f Facts) Hash() (uint32, error) { return 0, nil }

// Summary is the SQL.
func (f Facts) Summary() string { return f.SQL }

// MarshalJSON is JSON, or {"sql": SQL}.
func (f Facts) MarshalJSON() ([]byte, error) {
	if f.JSON != "" {
		return []byte(f.JSON), nil
	}
	return json.Marshal(map[string]string{"sql": f.SQL})
}

var _ action.Facts = Facts{}
