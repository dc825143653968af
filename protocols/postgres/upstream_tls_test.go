package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardproject/ward/proxy/ca"
)

// snakeoil is the certificate Debian's postgresql package serves (for
// localhost) when ssl is on.
const snakeoil = "/etc/ssl/certs/ssl-cert-snakeoil.pem"

// TestUpstreamTLS logs in to the real server over TLS as each tls mode
// says, and refuses to log in where the server's certificate does not
// verify: the agent gets an error and nothing runs.
func TestUpstreamTLS(t *testing.T) {
	db := newDB(t, "scram")
	var on string
	if err := db.owner(t).QueryRow(context.Background(), "SHOW ssl").Scan(&on); err != nil || on != "on" {
		needService(t, "Postgres with ssl = on", err)
	}
	if _, err := os.Stat(snakeoil); err != nil {
		needService(t, "the server's certificate "+snakeoil, err)
	}
	endpoint := func(upstream, tls, ca string) string {
		return `postgres(name = "db", port = 0, upstream = "` + upstream + `", database = "DB_NAME",
         user = "DB_ROLE", password = secrets.env("DB_PASSWORD"), tls = "` + tls + `", ` + ca + ` on_query = check)`
	}
	cases := []struct {
		name, policy, wantErr string
	}{
		{"require", endpoint("127.0.0.1:5432", "require", ""), ""},
		{"verify-full with the server's CA", endpoint("localhost:5432", "verify-full", `ca = secrets.file("`+snakeoil+`"),`), ""},
		{"verify-full, name mismatch", endpoint("127.0.0.1:5432", "verify-full", `ca = secrets.file("`+snakeoil+`"),`), "cannot log in to the database"},
		{"verify-full against another CA", endpoint("localhost:5432", "verify-full", `ca = secrets.file("OTHER_CA"),`), "cannot log in to the database"},
	}
	other, err := ca.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(otherCA, other.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, db, strings.ReplaceAll(tc.policy, "OTHER_CA", otherCA))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := pgx.Connect(ctx, g.url(""))
			if tc.wantErr != "" {
				if err == nil {
					c.Close(ctx)
					t.Fatal("logged in to a server whose certificate does not verify")
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), db.Password) {
					t.Fatal("the error carries the password")
				}
				return
			}
			if err != nil {
				t.Fatalf("connect: %v\nlog:\n%s", err, g.logs)
			}
			defer c.Close(ctx)
			var ssl bool
			if err := c.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
				t.Fatalf("upstream session over TLS = %v, %v", ssl, err)
			}
		})
	}
}
