package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// VaultConfig is what vault.config declares: where the gateway's Vault is
// and how it logs in. Without it, VAULT_ADDR and VAULT_TOKEN (and the other
// standard VAULT_* variables) of the gateway's environment apply.
type VaultConfig struct {
	Address   string
	Namespace string
	Auth      *VaultAuth // nil: VAULT_TOKEN
}

// VaultAuth is a Vault login method: vault.token(...) or vault.approle(...).
type VaultAuth struct {
	Method   string  // "token" or "approle"
	Token    *Secret // token
	RoleID   *Secret // approle; a literal role ID is wrapped as RoleIDText
	RoleText string  // approle: a role ID given as a plain string
	SecretID *Secret // approle
	Mount    string  // approle: the auth mount, default "approle"
}

// Vault is the vault module.
//
//	def vault.kv(path, field):        # a field of a KV secret (v1 or v2, detected):
//	                                  # vault.kv("kv/github", "token")
//	def vault.read(path, field):      # a field of any read, e.g. dynamic database
//	                                  # credentials: vault.read("database/creds/ro", "password")
//	def vault.config(address, auth = None, namespace = ""):
//	def vault.token(secret):          # log in with a token (itself a secret)
//	def vault.approle(role_id, secret_id, mount = "approle"):
//
// kv and read return secret handles, resolved when the gateway starts:
// if Vault is unreachable or a path is missing, the gateway refuses to
// start and names the path. Values are refreshed before their TTL; leases
// (dynamic secrets) are renewed and revoked when the gateway stops. Several
// fields read from one path share one read (one lease).
var Vault = &starlarkstruct.Module{
	Name: "vault",
	Members: starlark.StringDict{
		"kv":      starlark.NewBuiltin("vault.kv", vaultKV),
		"read":    starlark.NewBuiltin("vault.read", vaultRead),
		"config":  starlark.NewBuiltin("vault.config", vaultConfig),
		"token":   starlark.NewBuiltin("vault.token", vaultToken),
		"approle": starlark.NewBuiltin("vault.approle", vaultAppRole),
	},
}

// vaultReadPrefix marks the Ref of a vault.read secret; vault.kv refs are
// the bare "path#field".
const vaultReadPrefix = "read:"

// ParseVaultRef splits the Ref of a "vault" secret into the operation
// ("kv" or "read"), the path and the field.
func ParseVaultRef(ref string) (op, path, field string, err error) {
	op = "kv"
	if rest, ok := strings.CutPrefix(ref, vaultReadPrefix); ok {
		op, ref = "read", rest
	}
	i := strings.LastIndexByte(ref, '#')
	if i <= 0 || i == len(ref)-1 {
		return "", "", "", fmt.Errorf("vault reference %q is not path#field", ref)
	}
	return op, ref[:i], ref[i+1:], nil
}

func vaultPathField(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (string, string, error) {
	var path, field string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "field", &field); err != nil {
		return "", "", err
	}
	path = strings.Trim(path, "/")
	switch {
	case path == "" || !strings.Contains(path, "/"):
		return "", "", fmt.Errorf("%s: path %q must name a mount and a secret, such as \"kv/github\"", b.Name(), path)
	case strings.ContainsAny(path, "#?") || strings.Contains(path, ".."):
		return "", "", fmt.Errorf("%s: path %q must not contain '#', '?' or '..'", b.Name(), path)
	case field == "" || strings.Contains(field, "#"):
		return "", "", fmt.Errorf("%s: field must be a non-empty name without '#'", b.Name())
	}
	return path, field, nil
}

func vaultKV(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	path, field, err := vaultPathField(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return declareSecret(thread, b, &Secret{Kind: "vault", Ref: path + "#" + field})
}

func vaultRead(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	path, field, err := vaultPathField(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return declareSecret(thread, b, &Secret{Kind: "vault", Ref: vaultReadPrefix + path + "#" + field})
}

func vaultConfig(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		cfg  VaultConfig
		auth starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "address", &cfg.Address, "auth?", &auth, "namespace?", &cfg.Namespace); err != nil {
		return nil, err
	}
	if _, err := checkURL(cfg.Address); err != nil {
		return nil, fmt.Errorf("%s: address %v", b.Name(), err)
	}
	switch a := auth.(type) {
	case starlark.NoneType:
	case *VaultAuth:
		cfg.Auth = a
	default:
		return nil, fmt.Errorf("%s: auth must be vault.token(...) or vault.approle(...), got %s", b.Name(), auth.Type())
	}
	r, err := Declaring(thread, b)
	if err != nil {
		return nil, err
	}
	if err := r.SetVault(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return starlark.None, nil
}

func vaultToken(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a := &VaultAuth{Method: "token"}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "secret", &a.Token); err != nil {
		return nil, err
	}
	return a, nil
}

func vaultAppRole(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a := &VaultAuth{Method: "approle", Mount: "approle"}
	var roleID starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "role_id", &roleID, "secret_id", &a.SecretID, "mount?", &a.Mount); err != nil {
		return nil, err
	}
	switch r := roleID.(type) {
	case *Secret:
		a.RoleID = r
	case starlark.String:
		if r == "" {
			return nil, fmt.Errorf("%s: role_id must not be empty", b.Name())
		}
		a.RoleText = string(r)
	default:
		return nil, fmt.Errorf("%s: role_id must be a string or a secret, got %s", b.Name(), roleID.Type())
	}
	return a, nil
}

// String renders the login method without secrets.
func (a *VaultAuth) String() string {
	if a.Method == "approle" {
		return fmt.Sprintf("vault.approle(mount = %q)", a.Mount)
	}
	return fmt.Sprintf("vault.token(%s)", a.Token)
}

// Type is "vault_auth".
func (a *VaultAuth) Type() string { return "vault_auth" }

// Freeze is a no-op: immutable.
func (a *VaultAuth) Freeze() {}

// Truth is always true.
func (a *VaultAuth) Truth() starlark.Bool { return true }

// Hash refuses: not a dict key.
func (a *VaultAuth) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: vault_auth") }

var _ starlark.Value = (*VaultAuth)(nil)
