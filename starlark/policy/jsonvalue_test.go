package policy

import (
	"errors"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

func TestJSONValue(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{`{"a": [1, 2.5, "x", true, null], "b": {"c": 12345678901234567890}}`, `{"a": [1, 2.5, "x", True, None], "b": {"c": 12345678901234567890}}`, nil},
		{`[]`, `[]`, nil},
		{`  "s"  `, `"s"`, nil},
		{`not json`, `None`, nil},
		{``, `None`, nil},
		{`{"a":1,"a":2}`, ``, ErrAmbiguousJSON},
		{`{"a":1,"\u0061":2}`, ``, ErrAmbiguousJSON},
		{`{"Key":1,"key":2}`, ``, ErrAmbiguousJSON},
		{`{"k":1,"\u212a":2}`, ``, ErrAmbiguousJSON}, // Kelvin sign folds to k
		{`[{"a":1},{"a":2}]`, `[{"a": 1}, {"a": 2}]`, nil},
		{strings.Repeat("[", 300) + strings.Repeat("]", 300), ``, ErrAmbiguousJSON},
	}
	for _, tt := range tests {
		v, err := JSONValue([]byte(tt.in))
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("JSONValue(%.40s) error = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("JSONValue(%.40s): %v", tt.in, err)
			continue
		}
		if v.String() != tt.want {
			t.Errorf("JSONValue(%.40s) = %s, want %s", tt.in, v, tt.want)
		}
		if l, ok := v.(*starlark.List); ok {
			if err := l.Append(starlark.None); err == nil {
				t.Error("result is not frozen")
			}
		}
	}
}
