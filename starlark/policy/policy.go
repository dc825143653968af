// Package policy is ward's policy runtime: it evaluates a policy file (which
// only declares endpoints, judges and hooks), keeps the compiled result, and
// calls hooks on actions with a step limit and a deadline, turning whatever
// happens into a Verdict.
//
// Evaluating a policy never connects anywhere and never reads a secret, so
// `ward test` and `ward check` load the same file the gateway serves.
package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/wardproject/ward/builtins"
)

// Policy is a loaded, frozen policy.
type Policy struct {
	Path      string   // the main file, absolute
	Files     []string // every file evaluated, absolute, main first
	Hash      string   // sha256 over the files' paths and contents
	Gateway   Gateway
	Endpoints []*Endpoint
	// Tailnet is set when the policy calls tailnet(...).
	Tailnet *Tailnet
	// Agents are the local agent credentials agent(...) declares.
	Agents []*Agent
	// Secrets lists every secret handle created while loading, in order.
	// The gateway resolves them all at start; tests never do.
	Secrets []*builtins.Secret
	// Judges lists every judge declared while loading, in order. The
	// gateway starts the services behind them; tests stub them.
	Judges []*builtins.Judge
	// Vault is vault.config, or nil (VAULT_ADDR / VAULT_TOKEN apply).
	Vault *builtins.VaultConfig
	// Globals are the main file's frozen globals (test functions, for
	// `ward test`).
	Globals starlark.StringDict

	logger *slog.Logger
}

// Options configures Load.
type Options struct {
	// Predeclared adds names to those every file sees (test helpers).
	Predeclared starlark.StringDict
	// Logger receives print() and log() output during loading and, later,
	// hook tracebacks. Default slog.Default().
	Logger *slog.Logger
}

// fileOptions are the Starlark dialect of policy files.
var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, Recursion: true}

// Load evaluates the policy at path and everything it load()s.
func Load(path string, opts Options) (*Policy, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load policy %q: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	p := &Policy{Path: abs, Gateway: DefaultGateway(), logger: logger}
	d := &declarations{policy: p}
	predeclared := d.universe()
	for name, v := range opts.Predeclared {
		predeclared[name] = v
	}
	l := &loader{predeclared: predeclared, modules: make(map[string]*module)}
	thread := &starlark.Thread{Name: "load " + abs, Load: l.load}
	builtins.SetLogger(thread, logger)
	builtins.SetRegistry(thread, d)
	SetThreadPolicy(thread, p)
	globals, err := l.exec(thread, abs)
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, describe(err))
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	p.Globals = globals
	p.Files = l.files
	p.Hash, err = HashFiles(l.files)
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	return p, nil
}

// Universe lists every name a policy file sees: the builtins and the
// declarations (gateway, http, …). The values are for listing and
// documentation checks; declarations only work inside Load.
func Universe() starlark.StringDict {
	return (&declarations{policy: &Policy{Gateway: DefaultGateway()}}).universe()
}

// describe turns a Starlark evaluation error into one that shows where.
func describe(err error) error {
	if ee, ok := err.(*starlark.EvalError); ok {
		return fmt.Errorf("%s", ee.Backtrace())
	}
	return err
}

// HashFiles is the hash a Policy records over its files: sha256 over each
// file's path and contents, in path order.
func HashFiles(files []string) (string, error) {
	sorted := slices.Clone(files)
	slices.Sort(sorted)
	h := sha256.New()
	for _, f := range sorted {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Dir is the directory of the main policy file.
func (p *Policy) Dir() string { return filepath.Dir(p.Path) }

// Endpoint returns the endpoint with the given name, or nil.
func (p *Policy) Endpoint(name string) *Endpoint {
	for _, ep := range p.Endpoints {
		if ep.Name == name {
			return ep
		}
	}
	return nil
}

const policyKey = "ward.policy"

// SetThreadPolicy makes p the policy that test helpers on thread (such as
// http_request) route actions with. Load sets it while a file evaluates,
// so that endpoints declared so far are visible.
func SetThreadPolicy(thread *starlark.Thread, p *Policy) { thread.SetLocal(policyKey, p) }

// ThreadPolicy returns the policy set by SetThreadPolicy, or nil.
func ThreadPolicy(thread *starlark.Thread) *Policy {
	p, _ := thread.Local(policyKey).(*Policy)
	return p
}

// EndpointFor finds the endpoint of protocol a test helper or fixture
// names, or the only one of that protocol when name is empty.
func (p *Policy) EndpointFor(protocol, name string) (*Endpoint, error) {
	if p == nil {
		return nil, fmt.Errorf("no policy is loaded")
	}
	var found []*Endpoint
	for _, ep := range p.Endpoints {
		if ep.Protocol == protocol && (name == "" || ep.Name == name) {
			found = append(found, ep)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case name != "":
		return nil, fmt.Errorf("the policy declares no %s endpoint %q%s", protocol, name, p.LoadAdvice())
	case len(found) == 0:
		return nil, fmt.Errorf("the policy declares no %s endpoint%s", protocol, p.LoadAdvice())
	}
	return nil, fmt.Errorf("the policy declares %d %s endpoints: say which with endpoint = \"name\"", len(found), protocol)
}

// LoadAdvice is advice to append to "no endpoint" errors of test helpers:
// empty, unless p declares no endpoints at all, as a test file does that
// forgot to load the policy it tests.
func (p *Policy) LoadAdvice() string {
	if len(p.Endpoints) > 0 {
		return ""
	}
	return fmt.Sprintf(" (%s declares no endpoints: a test file sees those of the files it loads, as in load(\"ward.star\", ...))", filepath.Base(p.Path))
}
