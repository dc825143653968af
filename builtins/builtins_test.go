package builtins

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"
)

// registry collects secrets, judges and vault.config like a loading
// policy does.
type registry struct {
	secrets []*Secret
	judges  []*Judge
	vault   *VaultConfig
}

func (r *registry) AddSecret(s *Secret) { r.secrets = append(r.secrets, s) }
func (r *registry) AddJudge(j *Judge)   { r.judges = append(r.judges, j) }
func (r *registry) SetVault(c *VaultConfig) error {
	if r.vault != nil {
		return errors.New("called twice; configure Vault once")
	}
	r.vault = c
	return nil
}

// TestStarlark runs testdata/*.star with the assert module and Universe.
func TestStarlark(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.star")
	if len(files) == 0 {
		t.Fatal("no testdata/*.star")
	}
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			thread := &starlark.Thread{Name: file}
			starlarktest.SetReporter(thread, t)
			SetRegistry(thread, &registry{})
			predeclared := Universe()
			for k, v := range assert {
				predeclared[k] = v
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = starlark.ExecFileOptions(&syntax.FileOptions{Set: true, While: true}, thread, file, src, predeclared)
			if err != nil {
				if ee, ok := err.(*starlark.EvalError); ok {
					t.Fatal(ee.Backtrace())
				}
				t.Fatal(err)
			}
		})
	}
}

func TestSecretsOnlyWhileLoading(t *testing.T) {
	thread := &starlark.Thread{}
	_, err := starlark.Call(thread, Secrets.Members["env"], starlark.Tuple{starlark.String("X")}, nil)
	if err == nil || !strings.Contains(err.Error(), "only be called while the policy loads") {
		t.Fatalf("secrets.env from a hook: %v", err)
	}
}

func TestResolver(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := Resolver{
		LookupEnv: func(k string) (string, bool) {
			v, ok := map[string]string{"SET": "env-secret", "EMPTY": ""}[k]
			return v, ok
		},
		Vault: func(_ context.Context, ref string) ([]byte, error) {
			if ref == "kv/x#y" {
				return []byte("vault-secret"), nil
			}
			return nil, errors.New("no such path")
		},
	}
	tests := []struct {
		name    string
		secret  Secret
		want    string
		wantErr string
	}{
		{"env", Secret{Kind: "env", Ref: "SET"}, "env-secret", ""},
		{"env unset", Secret{Kind: "env", Ref: "UNSET"}, "", "UNSET is not set"},
		{"env empty", Secret{Kind: "env", Ref: "EMPTY"}, "", "is empty"},
		{"file", Secret{Kind: "file", Ref: file}, "file-secret", ""},
		{"file missing", Secret{Kind: "file", Ref: filepath.Join(dir, "nope")}, "", "no such file"},
		{"file empty", Secret{Kind: "file", Ref: filepath.Join(dir, "empty")}, "", "is empty"},
		{"vault", Secret{Kind: "vault", Ref: "kv/x#y"}, "vault-secret", ""},
		{"vault missing", Secret{Kind: "vault", Ref: "kv/nope#y"}, "", "no such path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(context.Background(), &tt.secret)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.secret.String()) {
					t.Errorf("error %q does not name the handle", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
	if _, err := (Resolver{}).Resolve(context.Background(), &Secret{Kind: "vault", Ref: "a"}); err == nil {
		t.Error("vault secret resolved without a vault")
	}
}

func TestInjectionValues(t *testing.T) {
	s := &Secret{Kind: "env", Ref: "X"}
	tests := []struct {
		inj        Injection
		header     string
		value      string
		stringForm string
	}{
		{Injection{Kind: "bearer", Header: "Authorization", Secret: s}, "Authorization", "Bearer tok", "bearer(<secret env:X>)"},
		{Injection{Kind: "basic", Header: "Authorization", User: "u", Secret: s}, "Authorization", "Basic dTp0b2s=", `basic("u", <secret env:X>)`},
		{Injection{Kind: "header", Header: "X-Api-Key", Secret: s}, "X-Api-Key", "tok", `header("X-Api-Key", <secret env:X>)`},
	}
	for _, tt := range tests {
		h := map[string][]string{tt.header: {"agent's own"}}
		tt.inj.Apply(h, []byte("tok"))
		if got := h[tt.header]; len(got) != 1 || got[0] != tt.value {
			t.Errorf("%s: header = %q, want %q", tt.inj.Kind, got, tt.value)
		}
		if tt.inj.String() != tt.stringForm || strings.Contains(tt.inj.String(), "tok") {
			t.Errorf("String() = %q", tt.inj.String())
		}
	}
}
