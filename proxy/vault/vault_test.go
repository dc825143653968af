package vault_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/vault"
	"github.com/wardproject/ward/proxy/vault/vaulttest"
)

const token = "root-token-canary"

// clock is a test clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newVault(t *testing.T) *vaulttest.Server {
	s := vaulttest.New(t, token)
	s.Mount("kv/", 2)
	s.Mount("secret/", 1)
	s.Put("kv/", "github", map[string]any{"token": "ghp-canary-v2", "n": 3})
	s.Put("secret/", "app/db", map[string]any{"password": "pw-canary-v1"})
	return s
}

func newClient(t *testing.T, s *vaulttest.Server, clk *clock, changed *atomic.Int32) *vault.Client {
	t.Helper()
	cfg := vault.Config{Address: s.URL, Token: token, Tick: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	if clk != nil {
		cfg.Now = clk.Now
	}
	if changed != nil {
		cfg.OnChange = func() { changed.Add(1) }
	}
	c, err := vault.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestKVv1AndV2(t *testing.T) {
	s := newVault(t)
	c := newClient(t, s, nil, nil)
	ctx := context.Background()
	for ref, want := range map[string]string{"kv/github#token": "ghp-canary-v2", "kv/github#n": "3", "secret/app/db#password": "pw-canary-v1"} {
		got, err := c.Resolve(ctx, ref)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", ref, got, err, want)
		}
	}
	for ref, want := range map[string]string{
		"kv/nope#token":       "no secret at kv/nope",
		"kv/github#missing":   `kv/github has no field "missing"`,
		"database/x#y":        "not KV: use vault.read",
		"read:kv/data/nope#x": "no secret at kv/data/nope",
		"unmounted/path#x":    "unmounted/path",
	} {
		_, err := c.Resolve(ctx, ref)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %q", ref, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "canary") {
			t.Errorf("%s: error leaks a value: %v", ref, err)
		}
	}
	reads := s.Reads
	c.Resolve(ctx, "kv/github#token")
	if s.Reads != reads {
		t.Error("a second resolve read Vault again instead of the cache")
	}
}

func TestAppRoleLogin(t *testing.T) {
	s := newVault(t)
	s.AppRole("role-1", "secret-id-canary")
	c, err := vault.New(context.Background(), vault.Config{Address: s.URL, AppRole: &vault.AppRole{Mount: "approle", RoleID: "role-1", SecretID: "secret-id-canary"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if v, err := c.Resolve(context.Background(), "kv/github#token"); err != nil || string(v) != "ghp-canary-v2" {
		t.Fatalf("%q %v", v, err)
	}
	_, err = vault.New(context.Background(), vault.Config{Address: s.URL, AppRole: &vault.AppRole{Mount: "approle", RoleID: "role-1", SecretID: "wrong"}})
	if err == nil || !strings.Contains(err.Error(), "AppRole login") {
		t.Fatalf("bad secret ID: %v", err)
	}
}

func TestBadTokenNamesThePath(t *testing.T) {
	s := newVault(t)
	c, err := vault.New(context.Background(), vault.Config{Address: s.URL, Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Resolve(context.Background(), "kv/github#token"); err == nil || !strings.Contains(err.Error(), "kv/github") || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("error %v", err)
	}
}

func TestVaultDownAtStart(t *testing.T) {
	s := newVault(t)
	s.SetDown(true)
	c := newClient(t, s, nil, nil)
	if _, err := c.Resolve(context.Background(), "kv/github#token"); err == nil || !strings.Contains(err.Error(), "kv/github") {
		t.Fatalf("sealed: %v", err)
	}
	s.Close()
	if _, err := c.Resolve(context.Background(), "secret/app/db#password"); err == nil || !strings.Contains(err.Error(), "secret/app/db") {
		t.Fatalf("gone: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDynamicLeaseIsSharedRenewedAndRevoked(t *testing.T) {
	s := newVault(t)
	s.LeaseTTL = 60
	clk := &clock{now: time.Now()}
	c := newClient(t, s, clk, nil)
	ctx := context.Background()
	user, err := c.Resolve(ctx, "read:database/creds/ro#username")
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := c.Resolve(ctx, "read:database/creds/ro#password")
	if leases := s.Leases(); len(leases) != 1 || string(user) != leases[0].Username || string(pass) != leases[0].Password {
		t.Fatalf("username and password from one lease: %q %q %+v", user, pass, leases)
	}
	clk.Add(41 * time.Second) // two thirds in: renew
	waitFor(t, "a renewal", func() bool { return s.Leases()[0].Renewals >= 1 })
	clk.Add(50 * time.Second) // past the first lease's end, within the renewed one
	// The server counts the renewal before the client has read its answer.
	waitFor(t, "the renewed lease in use", func() bool {
		v, err := c.Value("read:database/creds/ro#password")
		return err == nil && string(v) == string(pass)
	})
	c.Close(ctx)
	if l := s.Leases()[0]; !l.Revoked {
		t.Fatalf("lease not revoked on close: %+v", l)
	}
}

func TestVaultDownMidLeaseKeepsValueUntilLeaseEnds(t *testing.T) {
	s := newVault(t)
	s.LeaseTTL = 60
	clk := &clock{now: time.Now()}
	c := newClient(t, s, clk, nil)
	pass, err := c.Resolve(context.Background(), "read:database/creds/ro#password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(context.Background(), "kv/github#token"); err != nil {
		t.Fatal(err)
	}
	s.SetDown(true)
	clk.Add(45 * time.Second)
	time.Sleep(50 * time.Millisecond) // refresh attempts fail
	if v, err := c.Value("read:database/creds/ro#password"); err != nil || string(v) != string(pass) {
		t.Fatalf("within the lease: %q %v", v, err)
	}
	clk.Add(20 * time.Second) // the lease has ended
	if _, err := c.Value("read:database/creds/ro#password"); err == nil || !strings.Contains(err.Error(), "lease of database/creds/ro ended") {
		t.Fatalf("after the lease: %v", err)
	}
	if v, err := c.Value("kv/github#token"); err != nil || string(v) != "ghp-canary-v2" {
		t.Fatalf("KV values have no lease and stay: %q %v", v, err)
	}
	s.SetDown(false)
	clk.Add(time.Second)
	waitFor(t, "a fresh lease", func() bool { _, err := c.Value("read:database/creds/ro#password"); return err == nil })
	if v, _ := c.Value("read:database/creds/ro#password"); string(v) == string(pass) {
		t.Fatalf("expected new credentials after Vault came back")
	}
}

func TestMaxTTLReadsAFreshLease(t *testing.T) {
	s := newVault(t)
	s.LeaseTTL, s.MaxTTL = 60, 80
	clk := &clock{now: time.Now()}
	var changed atomic.Int32
	c := newClient(t, s, clk, &changed)
	first, _ := c.Resolve(context.Background(), "read:database/creds/ro#password")
	clk.Add(41 * time.Second) // renewal capped at 20s (< half): read again
	waitFor(t, "a second lease", func() bool { return len(s.Leases()) == 2 })
	waitFor(t, "new value", func() bool { v, _ := c.Value("read:database/creds/ro#password"); return string(v) != string(first) })
	if changed.Load() == 0 {
		t.Error("OnChange was not called")
	}
	found := false
	for _, v := range c.Values() {
		found = found || string(v) == string(first)
	}
	if !found {
		t.Error("old value forgotten by Values (redaction)")
	}
	c.Close(context.Background())
	for _, l := range s.Leases() {
		if !l.Revoked {
			t.Errorf("lease %s not revoked", l.ID)
		}
	}
}

func TestRetainRevokesDroppedPaths(t *testing.T) {
	s := newVault(t)
	c := newClient(t, s, nil, nil)
	c.Resolve(context.Background(), "read:database/creds/ro#password")
	c.Resolve(context.Background(), "kv/github#token")
	c.Retain(context.Background(), []string{"kv/github#token"})
	if !s.Leases()[0].Revoked {
		t.Fatal("dropped lease not revoked")
	}
	if _, err := c.Value("kv/github#token"); err != nil {
		t.Fatal(err)
	}
}

// A refresh that reads a fresh lease for a path a reload dropped while
// the read was in flight does not leave that lease behind: it is revoked
// like the one Retain revoked, not kept alive until its TTL.
func TestRefreshRacingRetainLeavesNoLease(t *testing.T) {
	s := newVault(t)
	s.LeaseTTL, s.MaxTTL = 60, 80 // the refresh reads a fresh lease
	clk := &clock{now: time.Now()}
	c := newClient(t, s, clk, nil)
	if _, err := c.Resolve(context.Background(), "read:database/creds/ro#password"); err != nil {
		t.Fatal(err)
	}
	held, release := s.HoldCreds()
	clk.Add(41 * time.Second)
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("no refresh read")
	}
	c.Retain(context.Background(), nil) // a reload dropped the path
	release()
	waitFor(t, "the second lease", func() bool { return len(s.Leases()) == 2 })
	waitFor(t, "every lease revoked", func() bool {
		for _, l := range s.Leases() {
			if !l.Revoked {
				return false
			}
		}
		return true
	})
}
