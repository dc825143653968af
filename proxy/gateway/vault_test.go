package gateway_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/vault/vaulttest"
)

const vaultToken = "hvs-canary-vault-token"

// vaultPolicy injects a KV secret, or with SECRET replaced a dynamic one.
const vaultPolicy = `
vault.config(address = "VAULT_ADDR", auth = vault.token(secrets.env("VAULT_TOKEN")))
gh = vault.kv("kv/github", "token")
db = vault.read("database/creds/ro", "password")
http(name = "api", hosts = ["UPSTREAM"], inject = bearer(SECRET), ca = secrets.file("CA_FILE"), on_request = lambda req: allow())
`

func newVault(t *testing.T) *vaulttest.Server {
	v := vaulttest.New(t, vaultToken)
	v.Mount("kv/", 2)
	v.Put("kv/", "github", map[string]any{"token": "ghp-canary-from-vault"})
	return v
}

func withVault(o *gateway.Options) {
	o.Resolver = builtins.Resolver{LookupEnv: func(n string) (string, bool) { return vaultToken, n == "VAULT_TOKEN" }}
}

func vaultHarness(t *testing.T, v *vaulttest.Server, secret string) *harness {
	return startWith(t, strings.ReplaceAll(strings.ReplaceAll(vaultPolicy, "VAULT_ADDR", v.URL), "SECRET", secret), withVault)
}

func TestVaultSecretsAreInjected(t *testing.T) {
	v := newVault(t)
	h := vaultHarness(t, v, "gh")
	if status, body, _ := h.do("GET", h.url("/x"), ""); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	got := h.up.Received()
	leases := v.Leases()
	// Both secrets are resolved at start (db is declared, so read), one
	// lease for the dynamic one.
	if len(got) != 1 || got[0].Header.Get("Authorization") != "Bearer ghp-canary-from-vault" || len(leases) != 1 {
		t.Fatalf("upstream saw %+v; leases %+v", got, leases)
	}
	h.records()
	h.close()
	if !v.Leases()[0].Revoked {
		t.Error("the dynamic lease was not revoked when the gateway stopped")
	}
	for _, secret := range []string{"ghp-canary-from-vault", leases[0].Password, vaultToken} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("log leaks %q", secret)
		}
		assertNotInDir(t, filepath.Join(h.dir, "state"), secret)
	}
}

func assertNotInDir(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), secret) {
			t.Errorf("%s holds a secret", path)
		}
		return nil
	})
}

func TestGatewayRefusesToStartWithoutVault(t *testing.T) {
	for name, setup := range map[string]func(v *vaulttest.Server) string{
		"vault down": func(v *vaulttest.Server) string { v.SetDown(true); return "kv/github" },
		"vault gone": func(v *vaulttest.Server) string { v.Close(); return "kv/github" },
		"missing path": func(v *vaulttest.Server) string {
			v.Put("kv/", "github", map[string]any{"other": "x"})
			return `kv/github has no field "token"`
		},
	} {
		t.Run(name, func(t *testing.T) {
			v := newVault(t)
			want := setup(v)
			dir := t.TempDir()
			policy := strings.ReplaceAll(`vault.config(address = "ADDR", auth = vault.token(secrets.env("VAULT_TOKEN")))
http(name = "api", hosts = ["api.example"], inject = bearer(vault.kv("kv/github", "token")), on_request = lambda r: allow())
`, "ADDR", v.URL)
			os.WriteFile(filepath.Join(dir, "ward.star"), []byte(policy), 0o600)
			port := 0
			opts := gateway.Options{Config: filepath.Join(dir, "ward.star"), StateDir: filepath.Join(dir, "state"), ProxyPort: &port,
				LogHandler: slog.DiscardHandler, WatchInterval: -1}
			withVault(&opts)
			gw, err := gateway.Start(context.Background(), opts)
			if err == nil {
				gw.Close(context.Background())
				t.Fatal("the gateway started without its Vault secret")
			}
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "<secret vault:kv/github#token>") {
				t.Fatalf("error %v does not name %q", err, want)
			}
		})
	}
}

func TestVaultDownMidLeaseFailsClosedAfterTheLease(t *testing.T) {
	v := newVault(t)
	v.LeaseTTL = 2
	h := vaultHarness(t, v, "db")
	if status, _, _ := h.do("GET", h.url("/1"), ""); status != 200 {
		t.Fatalf("first request: %d", status)
	}
	if got := h.up.Received()[0].Header.Get("Authorization"); !strings.Contains(got, "Basic") && got != "Bearer "+v.Leases()[0].Password {
		t.Fatalf("injected %q", got)
	}
	v.SetDown(true)
	if status, _, _ := h.do("GET", h.url("/2"), ""); status != 200 {
		t.Fatalf("within the lease: %d", status)
	}
	time.Sleep(2500 * time.Millisecond)
	status, body, _ := h.do("GET", h.url("/3"), "")
	if status != http.StatusBadGateway || !strings.Contains(body, "Vault lease ended") {
		t.Fatalf("after the lease: %d %s", status, body)
	}
	if n := len(h.up.Received()); n != 2 {
		t.Fatalf("upstream saw %d requests, want 2", n)
	}
	waitFor(t, "a warning about the failed renewal", func() bool {
		return strings.Contains(h.logs.String(), "vault: refresh failed; keeping the last value")
	})
	v.SetDown(false) // Vault is back: a fresh lease, and requests pass again
	deadline := time.Now().Add(5 * time.Second)
	for {
		if status, _, _ := h.do("GET", h.url("/4"), ""); status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no recovery after Vault came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
