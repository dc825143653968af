package policytest

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/starlark/policy"
)

// Limits of one test function.
const (
	testSteps   = 100_000_000
	testTimeout = 30 * time.Second
)

// Result is the outcome of one test function or fixture.
type Result struct {
	File     string   // the file, as given or found
	Name     string   // the test function; empty for a fixture
	Failures []string // empty when it passed
	Logs     []string
	Elapsed  time.Duration
}

// Passed reports whether the test passed.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// runStarFile runs every test_* function in file, in the order they appear.
func (r *Runner) runStarFile(file string) []Result {
	predeclared := starlark.StringDict{"decide": decideBuiltin}
	for _, proto := range r.Protocols {
		for name, v := range proto.Builtins {
			predeclared[name] = v
		}
	}
	p, err := policy.Load(file, policy.Options{Predeclared: predeclared, Logger: r.logger()})
	if err != nil {
		return []Result{{File: file, Failures: []string{err.Error()}}}
	}
	tests := testFunctions(p.Globals)
	if len(tests) == 0 {
		return []Result{{File: file, Failures: []string{"no test_* functions"}}}
	}
	results := make([]Result, 0, len(tests))
	for _, fn := range tests {
		results = append(results, r.runTest(file, p, fn))
	}
	return results
}

func testFunctions(globals starlark.StringDict) []*starlark.Function {
	var fns []*starlark.Function
	for name, v := range globals {
		if fn, ok := v.(*starlark.Function); ok && strings.HasPrefix(name, "test_") && fn.Name() == name {
			fns = append(fns, fn)
		}
	}
	slices.SortFunc(fns, func(a, b *starlark.Function) int {
		return int(a.Position().Line) - int(b.Position().Line)
	})
	return fns
}

func (r *Runner) runTest(file string, p *policy.Policy, fn *starlark.Function) Result {
	res := Result{File: file, Name: fn.Name()}
	if fn.NumParams() != 1 {
		res.Failures = []string{fmt.Sprintf("%s: %s must take one parameter, t", fn.Position(), fn.Name())}
		return res
	}
	t := newT(fn.Name())
	thread := &starlark.Thread{Name: fn.Name()}
	thread.SetMaxExecutionSteps(testSteps)
	policy.SetThreadPolicy(thread, p)
	builtins.SetLogger(thread, r.logger().With("test", fn.Name()))
	builtins.SetAsker(thread, t.stubs)
	timer := time.AfterFunc(testTimeout, func() { thread.Cancel("test ran longer than " + testTimeout.String()) })
	start := time.Now()
	_, err := starlark.Call(thread, fn, starlark.Tuple{t}, nil)
	res.Elapsed = time.Since(start)
	timer.Stop()
	res.Failures, res.Logs = t.failures, t.logs
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*starlark.EvalError); ok {
			msg = ee.Backtrace()
		}
		// An unstubbed judge recorded its failure already; the backtrace
		// says the same with the place, so it replaces it.
		if n := len(res.Failures); n > 0 && strings.Contains(msg, res.Failures[n-1]) {
			res.Failures = res.Failures[:n-1]
		}
		res.Failures = append(res.Failures, msg)
	}
	return res
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}
