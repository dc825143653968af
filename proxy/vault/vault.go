// Package vault resolves the policy's vault.kv and vault.read secrets
// through github.com/hashicorp/vault/api. It detects each KV mount's
// version, caches what it read per path (several fields of one path share
// one read, and so one lease), refreshes values before their TTL, renews
// leases of dynamic secrets and revokes them when the gateway stops.
//
// When Vault fails after start, a value stays usable until its lease ends;
// then Value fails, and the endpoint that needs it fails closed.
package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/wardproject/ward/builtins"
)

// Config says where Vault is and how to log in.
type Config struct {
	// Address and Namespace; empty Address uses VAULT_ADDR (and the other
	// VAULT_* variables) as the vault CLI does.
	Address   string
	Namespace string
	// Token logs in with a token; empty (and no AppRole) uses VAULT_TOKEN.
	Token string
	// AppRole logs in with a role ID and secret ID instead.
	AppRole *AppRole
	// HTTPClient sends the requests (tests); default the vault client's.
	HTTPClient *http.Client
	// Tick is how often leases and TTLs are checked; default one second.
	Tick time.Duration
	// KVRefresh is how often values without a lease (KV v2) are re-read;
	// default five minutes.
	KVRefresh time.Duration
	Logger    *slog.Logger
	// OnChange is called after values change (a refresh, a new lease), so
	// that redaction learns them.
	OnChange func()
	Now      func() time.Time // allow overriding time for tests
}

// AppRole is an AppRole login.
type AppRole struct {
	Mount, RoleID, SecretID string
}

// Client is a logged-in Vault client with its cache of read secrets.
type Client struct {
	cfg Config
	api *vaultapi.Client

	mu      sync.Mutex
	entries map[string]*entry // by op + "\x00" + path
	mounts  map[string]mount  // KV mount of a path prefix
	seen    [][]byte          // every value held, for redaction
	token   lease             // an AppRole login's token lease
	retired []lease           // leases replaced by fresh reads, revoked on Close

	stop chan struct{}
	done chan struct{}
}

// New logs in. It returns an error naming the address when Vault is
// unreachable or refuses the login.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.KVRefresh <= 0 {
		cfg.KVRefresh = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	vc := vaultapi.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("vault: %w", vc.Error)
	}
	if cfg.Address != "" {
		vc.Address = cfg.Address
	}
	if cfg.HTTPClient != nil {
		vc.HttpClient = cfg.HTTPClient
	}
	vc.MaxRetries = 0 // the refresh loop retries; a start fails fast
	vc.Timeout = 15 * time.Second
	api, err := vaultapi.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault at %s: %w", vc.Address, err)
	}
	if cfg.Namespace != "" {
		api.SetNamespace(cfg.Namespace)
	}
	c := &Client{cfg: cfg, api: api, entries: map[string]*entry{}, mounts: map[string]mount{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := c.login(ctx); err != nil {
		return nil, err
	}
	go c.run()
	return c, nil
}

// Address is the Vault address in use.
func (c *Client) Address() string { return c.api.Address() }

// login sets the client's token.
func (c *Client) login(ctx context.Context) error {
	switch {
	case c.cfg.AppRole != nil:
		ar := c.cfg.AppRole
		s, err := c.api.Logical().WriteWithContext(ctx, "auth/"+ar.Mount+"/login",
			map[string]any{"role_id": ar.RoleID, "secret_id": ar.SecretID})
		if err != nil {
			return fmt.Errorf("vault at %s: AppRole login (auth/%s/login): %w", c.Address(), ar.Mount, err)
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return fmt.Errorf("vault at %s: AppRole login returned no token", c.Address())
		}
		c.api.SetToken(s.Auth.ClientToken)
		c.mu.Lock()
		c.token = tokenLease(s.Auth.LeaseDuration, s.Auth.Renewable, c.cfg.Now())
		c.mu.Unlock()
	case c.cfg.Token != "":
		c.api.SetToken(c.cfg.Token)
	}
	if c.api.Token() == "" {
		return fmt.Errorf("vault at %s: no token: use vault.config(auth = vault.token(...) or vault.approle(...)), or set VAULT_TOKEN", c.Address())
	}
	return nil
}

// Resolve reads the secret behind a "vault" secret's Ref (cached per
// path) and returns the field. Errors name the path, never a value.
func (c *Client) Resolve(ctx context.Context, ref string) ([]byte, error) {
	op, path, field, err := builtins.ParseVaultRef(ref)
	if err != nil {
		return nil, err
	}
	e, err := c.entry(ctx, op, path)
	if err != nil {
		return nil, err
	}
	return e.field(field, c.cfg.Now())
}

// Value returns the current value of ref from the cache: refreshed and
// renewed in the background, and an error once its lease has ended.
func (c *Client) Value(ref string) ([]byte, error) {
	op, path, field, err := builtins.ParseVaultRef(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	e := c.entries[key(op, path)]
	c.mu.Unlock()
	if e == nil {
		return nil, fmt.Errorf("vault: %s was never read", path)
	}
	return e.field(field, c.cfg.Now())
}

// Values returns every value the client has held, for redaction.
func (c *Client) Values() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.seen...)
}

// maxSeen bounds the values kept for redaction.
const maxSeen = 1024

func (c *Client) remember(data map[string][]byte) {
	c.mu.Lock()
	for _, v := range data {
		c.seen = append(c.seen, v)
	}
	if len(c.seen) > maxSeen {
		c.seen = c.seen[len(c.seen)-maxSeen:]
	}
	c.mu.Unlock()
}

// Retain forgets the paths that refs no longer name, revoking their
// leases (after a reload dropped them).
func (c *Client) Retain(ctx context.Context, refs []string) {
	keep := map[string]bool{}
	for _, r := range refs {
		if op, path, _, err := builtins.ParseVaultRef(r); err == nil {
			keep[key(op, path)] = true
		}
	}
	c.mu.Lock()
	var drop []*entry
	for k, e := range c.entries {
		if !keep[k] {
			drop = append(drop, e)
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
	for _, e := range drop {
		c.revokeID(ctx, e.path, e.drop())
	}
}

// Close stops refreshing and revokes every lease the client holds.
func (c *Client) Close(ctx context.Context) error {
	select {
	case <-c.stop:
		return nil
	default:
	}
	close(c.stop)
	<-c.done
	c.mu.Lock()
	entries := make([]*entry, 0, len(c.entries))
	for _, e := range c.entries {
		entries = append(entries, e)
	}
	c.entries = map[string]*entry{}
	retired := c.retired
	c.retired = nil
	c.mu.Unlock()
	var errs []error
	for _, e := range entries {
		errs = append(errs, c.revoke(ctx, e))
	}
	for _, l := range retired {
		if c.cfg.Now().Before(l.end) {
			_ = c.api.Sys().RevokeWithContext(ctx, l.id)
		}
	}
	return errors.Join(errs...)
}

func (c *Client) revoke(ctx context.Context, e *entry) error {
	return c.revokeID(ctx, e.path, e.leaseID())
}

func (c *Client) revokeID(ctx context.Context, path, id string) error {
	if id == "" {
		return nil
	}
	if err := c.api.Sys().RevokeWithContext(ctx, id); err != nil {
		c.cfg.Logger.Warn("vault: cannot revoke a lease; it ends on its own", "path", path, "error", err)
		return fmt.Errorf("vault: revoke the lease of %s: %w", path, err)
	}
	c.cfg.Logger.Info("vault: lease revoked", "path", path)
	return nil
}

func key(op, path string) string { return op + "\x00" + path }
