package builtins

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Secret is an opaque handle to a credential. Starlark code can pass it
// around but never read it: str() gives "<secret env:NAME>", and it has no
// attributes, no JSON encoding and no hash. The gateway resolves it when it
// starts (see Resolver); policy evaluation and `ward test` never do.
type Secret struct {
	Kind string // "env", "file", "vault"
	Ref  string // the variable name, absolute file path, or vault path#key
}

// String renders the handle without its value.
func (s *Secret) String() string { return "<secret " + s.Kind + ":" + s.Ref + ">" }

// Type is "secret".
func (s *Secret) Type() string { return "secret" }

// Freeze is a no-op: handles are immutable.
func (s *Secret) Freeze() {}

// Truth is always true.
func (s *Secret) Truth() starlark.Bool { return true }

// Hash refuses: a secret is not a dict key or set member.
func (s *Secret) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: secret") }

var _ starlark.Value = (*Secret)(nil)

// Secrets is the secrets module.
//
//	def secrets.env(name):   # the environment variable NAME of the gateway
//	def secrets.file(path):  # the file's contents, trailing newline removed;
//	                         # a relative path is relative to the policy file
var Secrets = &starlarkstruct.Module{
	Name: "secrets",
	Members: starlark.StringDict{
		"env":  starlark.NewBuiltin("secrets.env", secretEnv),
		"file": starlark.NewBuiltin("secrets.file", secretFile),
	},
}

func secretEnv(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%s: empty variable name", b.Name())
	}
	return declareSecret(thread, b, &Secret{Kind: "env", Ref: name})
}

func secretFile(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("%s: empty path", b.Name())
	}
	return declareSecret(thread, b, &Secret{Kind: "file", Ref: CallerRelative(thread, path)})
}

// CallerRelative resolves a path relative to the directory of the Starlark
// file that called the current builtin.
func CallerRelative(thread *starlark.Thread, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	caller := thread.CallFrame(1).Pos.Filename()
	if abs, err := filepath.Abs(filepath.Join(filepath.Dir(caller), path)); err == nil {
		return abs
	}
	return filepath.Join(filepath.Dir(caller), path)
}

// Resolver reads secret values when the gateway starts. Its fields are seams
// for tests; the zero value reads the real environment and file system.
type Resolver struct {
	LookupEnv func(string) (string, bool)
	ReadFile  func(string) ([]byte, error)
	// Vault resolves "vault" secrets; nil means no vault is configured.
	Vault func(ctx context.Context, ref string) ([]byte, error)
	// VaultCurrent, when set, gives a "vault" secret's current value after
	// it was resolved (refreshed, renewed), and an error once its lease
	// has ended; without it the value resolved at start is kept.
	VaultCurrent func(ref string) ([]byte, error)
}

// Resolve returns the secret's value. Errors name the handle, never a value.
func (r Resolver) Resolve(ctx context.Context, s *Secret) ([]byte, error) {
	var v []byte
	switch s.Kind {
	case "env":
		lookup := r.LookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		val, ok := lookup(s.Ref)
		if !ok {
			return nil, fmt.Errorf("secret %s: environment variable %s is not set", s, s.Ref)
		}
		v = []byte(val)
	case "file":
		read := r.ReadFile
		if read == nil {
			read = os.ReadFile
		}
		data, err := read(s.Ref)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", s, err)
		}
		v = bytes.TrimRight(data, "\r\n")
	case "vault":
		if r.Vault == nil {
			return nil, fmt.Errorf("secret %s: no vault is configured", s)
		}
		data, err := r.Vault(ctx, s.Ref)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", s, err)
		}
		v = data
	default:
		return nil, fmt.Errorf("secret %s: unknown kind %q", s, s.Kind)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("secret %s is empty", s)
	}
	return v, nil
}
