package postgres_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/vault/vaulttest"
)

// TestDynamicCredentialsFromVault logs in upstream with a username and
// password leased from Vault (database/creds/…): one lease for both, the
// values never shown to the agent, the hooks or the audit log, and new
// connections refused once the lease ended with Vault down.
func TestDynamicCredentialsFromVault(t *testing.T) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
	v := vaulttest.New(t, "vault-root")
	v.LeaseTTL = 2
	v.Creds = func(int) (string, string) { return db.Role, db.Password }
	policy := strings.ReplaceAll(`
vault.config(address = "VAULT_URL", auth = vault.token(secrets.env("VAULT_TOKEN")))
def show_user(q):
    if "t" in q.tables:
        return allow("user " + q.user)
    return allow()
postgres(name = "db", port = 0, upstream = "127.0.0.1:5432", database = "DB_NAME",
         user = vault.read("database/creds/ro", "username"), password = vault.read("database/creds/ro", "password"),
         tls = "disable", on_query = show_user)
`, "VAULT_URL", v.URL)
	g := startGatewayWith(t, db, policy, func(o *gateway.Options) {
		o.Resolver = builtins.Resolver{LookupEnv: func(n string) (string, bool) { return "vault-root", n == "VAULT_TOKEN" }}
	})
	c := g.connect("")
	var x int
	if err := c.QueryRow(context.Background(), "SELECT x FROM t").Scan(&x); err != nil || x != 7 {
		t.Fatalf("query through dynamic credentials: %d %v", x, err)
	}
	if leases := v.Leases(); len(leases) != 1 {
		t.Fatalf("username and password should share one lease: %+v", leases)
	}
	rec := findRecord(t, g, "SELECT x FROM t")
	if rec.Reason != "user <secret vault:read:database/creds/ro#username>" {
		t.Errorf("the hook saw the role as %q", rec.Reason)
	}

	// Vault goes away; the lease ends; new connections fail closed.
	v.SetDown(true)
	time.Sleep(2500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pgx.Connect(ctx, g.url(""))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.Contains(pgErr.Message, "unavailable (its Vault lease ended)") {
		t.Fatalf("connect after the lease ended: %v", err)
	}
	if strings.Contains(err.Error(), db.Password) {
		t.Error("the error shows the password")
	}
	v.SetDown(false)
	if err := g.gw.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, l := range v.Leases() {
		if !l.Revoked {
			t.Errorf("lease %s not revoked when the gateway stopped", l.ID)
		}
	}
	filepath.Walk(filepath.Join(g.dir, "state"), func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if data, _ := os.ReadFile(path); strings.Contains(string(data), db.Password) {
				t.Errorf("%s holds the database password", path)
			}
		}
		return nil
	})
}
