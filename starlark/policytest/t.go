package policytest

import (
	"fmt"
	"strings"
	"sync"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
)

// tValue is the t passed to each test_* function.
//
//	def t.eq(got, want, msg = ""):   # fails the test unless got == want
//	def t.true(cond, msg = ""):      # fails the test unless cond is true
//	def t.fails(fn, *args, match = "", **kwargs):
//	                                 # calls fn(*args, **kwargs) and fails the
//	                                 # test unless it raises an error containing
//	                                 # match; returns the error message
//	def t.fail(msg):                 # fails the test
//	def t.log(*args):                # prints with the test's output in -v mode
//	def t.judge(judge, verdict, reason = "", decided_by = ""):
//	                                 # stubs a judge: its ask() answers verdict
//	                                 # ("allow" or "deny"); a judge asked
//	                                 # without a stub fails the test
//
// A failure is recorded and the test goes on, like Go's t.Errorf.
type tValue struct {
	name     string
	failures []string
	logs     []string
	methods  starlark.StringDict
	stubs    *stubs
	mu       sync.Mutex // guards failures added by judges' stubs
}

func newT(name string) *tValue {
	t := &tValue{name: name}
	t.stubs = &stubs{t: t, by: map[*builtins.Judge]action.Verdict{}}
	t.methods = starlark.StringDict{
		"judge": starlark.NewBuiltin("t.judge", t.judge),
		"eq":    starlark.NewBuiltin("t.eq", t.eq),
		"true":  starlark.NewBuiltin("t.true", t.isTrue),
		"fails": starlark.NewBuiltin("t.fails", t.fails),
		"fail":  starlark.NewBuiltin("t.fail", t.fail),
		"log":   starlark.NewBuiltin("t.log", t.log),
	}
	return t
}

func (t *tValue) failf(thread *starlark.Thread, format string, args ...any) {
	pos := thread.CallFrame(1).Pos
	t.addFailure(fmt.Sprintf("%s: %s", pos, fmt.Sprintf(format, args...)))
}

func (t *tValue) addFailure(msg string) {
	t.mu.Lock()
	t.failures = append(t.failures, msg)
	t.mu.Unlock()
}

func withMsg(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

func (t *tValue) eq(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, want starlark.Value
	var msg string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "got", &got, "want", &want, "msg?", &msg); err != nil {
		return nil, err
	}
	eq, err := starlark.Equal(got, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	if !eq {
		t.failf(thread, "%s%s: got %s, want %s", b.Name(), withMsg(msg), got, want)
	}
	return starlark.None, nil
}

func (t *tValue) isTrue(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cond starlark.Value
	var msg string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cond", &cond, "msg?", &msg); err != nil {
		return nil, err
	}
	if !cond.Truth() {
		t.failf(thread, "%s%s: got %s", b.Name(), withMsg(msg), cond)
	}
	return starlark.None, nil
}

func (t *tValue) fails(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: missing the function to call", b.Name())
	}
	fn, ok := args[0].(starlark.Callable)
	if !ok {
		return nil, fmt.Errorf("%s: %s is not callable", b.Name(), args[0].Type())
	}
	match := ""
	var rest []starlark.Tuple
	for _, kv := range kwargs {
		if kv[0] == starlark.String("match") {
			s, ok := starlark.AsString(kv[1])
			if !ok {
				return nil, fmt.Errorf("%s: match must be a string", b.Name())
			}
			match = s
			continue
		}
		rest = append(rest, kv)
	}
	_, err := starlark.Call(thread, fn, args[1:], rest)
	if err == nil {
		t.failf(thread, "%s: %s did not fail", b.Name(), fn.Name())
		return starlark.None, nil
	}
	msg := err.Error()
	if ee, ok := err.(*starlark.EvalError); ok {
		msg = ee.Msg
	}
	if !strings.Contains(msg, match) {
		t.failf(thread, "%s: %s failed with %q, which does not contain %q", b.Name(), fn.Name(), msg, match)
	}
	return starlark.String(msg), nil
}

func (t *tValue) fail(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var msg string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "msg", &msg); err != nil {
		return nil, err
	}
	t.failf(thread, "%s", msg)
	return starlark.None, nil
}

func (t *tValue) log(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	parts := make([]string, len(args))
	for i, a := range args {
		if s, ok := a.(starlark.String); ok {
			parts[i] = string(s)
		} else {
			parts[i] = a.String()
		}
	}
	t.logs = append(t.logs, strings.Join(parts, " "))
	return starlark.None, nil
}

func (t *tValue) Attr(name string) (starlark.Value, error) { return t.methods[name], nil }
func (t *tValue) AttrNames() []string                      { return t.methods.Keys() }
func (t *tValue) String() string                           { return "<test " + t.name + ">" }
func (t *tValue) Type() string                             { return "test" }
func (t *tValue) Freeze()                                  {}
func (t *tValue) Truth() starlark.Bool                     { return true }
func (t *tValue) Hash() (uint32, error)                    { return 0, fmt.Errorf("unhashable type: test") }

var _ starlark.HasAttrs = (*tValue)(nil)

// HelperNames lists the test helpers every *_test.star sees besides the
// protocols' action constructors, for documentation checks.
func HelperNames() []string {
	names := []string{"decide"}
	for name := range newT("").methods {
		names = append(names, "t."+name)
	}
	return names
}
