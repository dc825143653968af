package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/proxy/vault"
	"github.com/wardproject/ward/starlark/policy"
)

// vaultState is the gateway's Vault client and the configuration it was
// built from; it lives across reloads so that leases are not taken anew.
type vaultState struct {
	client *vault.Client
	key    string
}

// resolver is the secret resolver for p: the configured one, with Vault
// wired in when p reads Vault secrets (and the options give no Vault of
// their own). It returns the Vault client to keep when p is served.
func (g *Gateway) resolver(ctx context.Context, p *policy.Policy) (builtins.Resolver, *vaultState, error) {
	r := g.opts.Resolver
	if r.Vault != nil || !usesVault(p) {
		return r, nil, nil
	}
	cfg, key, err := vaultConfig(ctx, p.Vault, r)
	if err != nil {
		return r, nil, err
	}
	vs := g.vault.Load()
	if vs == nil || vs.key != key {
		cfg.Logger, cfg.OnChange = g.logger, g.refreshRedaction
		client, err := vault.New(ctx, cfg)
		if err != nil {
			return r, nil, fmt.Errorf("resolve secrets: %w", err)
		}
		vs = &vaultState{client: client, key: key}
	}
	r.Vault, r.VaultCurrent = vs.client.Resolve, vs.client.Value
	return r, vs, nil
}

func usesVault(p *policy.Policy) bool {
	for _, s := range p.Secrets {
		if s.Kind == "vault" {
			return true
		}
	}
	return false
}

// vaultConfig resolves vault.config's login secrets. The key identifies
// the configuration (a hash: it covers secret values).
func vaultConfig(ctx context.Context, c *builtins.VaultConfig, r builtins.Resolver) (vault.Config, string, error) {
	var cfg vault.Config
	h := sha256.New()
	if c != nil {
		cfg.Address, cfg.Namespace = c.Address, c.Namespace
		fmt.Fprintf(h, "%s\x00%s\x00", c.Address, c.Namespace)
	}
	resolve := func(s *builtins.Secret) (string, error) {
		if s.Kind == "vault" {
			return "", fmt.Errorf("vault.config: %s cannot come from Vault itself", s)
		}
		v, err := r.Resolve(ctx, s)
		if err != nil {
			return "", fmt.Errorf("vault.config: %w", err)
		}
		h.Write(v)
		h.Write([]byte{0})
		return string(v), nil
	}
	if c != nil && c.Auth != nil {
		var err error
		switch a := c.Auth; a.Method {
		case "token":
			cfg.Token, err = resolve(a.Token)
		case "approle":
			ar := &vault.AppRole{Mount: a.Mount, RoleID: a.RoleText}
			if a.RoleID != nil {
				if ar.RoleID, err = resolve(a.RoleID); err != nil {
					return cfg, "", err
				}
			}
			h.Write([]byte(ar.RoleID))
			ar.SecretID, err = resolve(a.SecretID)
			cfg.AppRole = ar
		}
		if err != nil {
			return cfg, "", err
		}
	}
	return cfg, hex.EncodeToString(h.Sum(nil)), nil
}

// useVault makes vs the gateway's Vault client once its snapshot serves,
// closing a client it replaces and forgetting paths p no longer reads.
func (g *Gateway) useVault(ctx context.Context, vs *vaultState, p *policy.Policy) {
	if vs == nil {
		return
	}
	old := g.vault.Swap(vs)
	if old != nil && old != vs {
		go old.client.Close(context.WithoutCancel(ctx))
	}
	var refs []string
	for _, s := range p.Secrets {
		if s.Kind == "vault" {
			refs = append(refs, s.Ref)
		}
	}
	vs.client.Retain(ctx, refs)
}

// dropVault closes a client built for a snapshot that will not serve.
func (g *Gateway) dropVault(vs *vaultState) {
	if vs != nil && vs != g.vault.Load() {
		vs.client.Close(context.Background())
	}
}

// closeVault revokes the leases of the gateway's Vault client.
func (g *Gateway) closeVault(ctx context.Context) error {
	if vs := g.vault.Swap(nil); vs != nil {
		return vs.client.Close(ctx)
	}
	return nil
}

// refreshRedaction teaches the log redaction every secret value held now
// (values rotated by Vault included; none is ever forgotten).
func (g *Gateway) refreshRedaction() {
	var values [][]byte
	if g.engine != nil {
		values = redactions(g.engine.Snapshot())
	}
	if vs := g.vault.Load(); vs != nil {
		values = append(values, vs.client.Values()...)
	}
	g.redact.AddSecrets(values)
}
