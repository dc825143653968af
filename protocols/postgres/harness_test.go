package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/gateway/gatewaytest"
)

// adminURL reaches the real Postgres these tests run against.
const adminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// needService skips a test whose service is absent, but fails in CI.
func needService(t testing.TB, what string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s is not available (%v); CI must provide it (see protocols/postgres/testdata/pg-auth-setup.sh)", what, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg) // outside CI only: CI=true failed above
}

// testDB is a database and a role with a real password made for one test.
type testDB struct {
	Name, Role, Password string
	admin                *pgx.Conn
}

// newDB makes a database owned by a new role that must log in with method
// ("scram", "md5" or "password") and drops both when the test ends.
func newDB(t testing.TB, method string) *testDB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		needService(t, "Postgres at 127.0.0.1:5432", err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	group := "ward_" + method
	var ok bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", group).Scan(&ok); err != nil || !ok {
		needService(t, "the "+group+" group and its pg_hba rule", fmt.Errorf("group missing: %v", err))
	}
	suffix := randHex(6)
	db := &testDB{Name: "ward_t_" + suffix, Role: "ward_t_" + suffix, Password: "pw-" + randHex(12), admin: admin}
	enc := "scram-sha-256"
	if method == "md5" {
		enc = "md5"
	}
	for _, q := range []string{
		"SET password_encryption = '" + enc + "'",
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE %s", db.Role, db.Password, group),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", db.Name, db.Role),
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db.Name+" WITH (FORCE)")
		admin.Exec(ctx, "DROP ROLE IF EXISTS "+db.Role)
	})
	// The role really needs its password: a direct login without it fails.
	if c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:wrong@127.0.0.1:5432/%s?sslmode=disable", db.Role, db.Name)); err == nil {
		c.Close(ctx)
		needService(t, "password authentication for "+group, fmt.Errorf("the server let %s in with a wrong password", db.Role))
	}
	return db
}

// owner connects to the test database directly as its owner (with the
// password), to set up tables and check effects.
func (db *testDB) owner(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@127.0.0.1:5432/%s?sslmode=disable", db.Role, db.Password, db.Name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (db *testDB) exec(t testing.TB, sql string) {
	t.Helper()
	c := db.owner(t)
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("setup %q: %v", sql, err)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// gw is an in-process gateway (the code path of `ward gateway`).
type gw struct {
	t    testing.TB
	dir  string
	gw   *gateway.Gateway
	logs *gatewaytest.LogBuffer
	addr string // the postgres endpoint "db"
	db   *testDB
	// closed is set by a test that closed the gateway itself.
	closed bool
}

// basePolicy is prepended to every test policy; DB_* are replaced.
const basePolicy = `
BANNED = ["pg_read_file", "pg_read_binary_file", "pg_ls_dir", "lo_get", "lo_import", "lo_export"]

def check(q):
    if [v for v in q.verbs if v in ("drop", "truncate", "alter", "grant", "revoke")]:
        return deny("schema changes land via migration PR")
    for f in q.functions:
        if f in BANNED or f.startswith("dblink"):
            return deny("filesystem-reaching function " + f)
    for s in q.statements:
        if s.copy_target in ("program", "file"):
            return deny("COPY to or from the server's files or programs")
    if q.writes and [t for t in q.tables if t in ("users", "accounts")]:
        return deny("writes to " + ", ".join(q.tables) + " need a human")
    if "deny_me" in q.tables:
        return deny("deny_me is off limits")
    return allow()
`

func startGateway(t testing.TB, db *testDB, policy string) *gw {
	t.Helper()
	return startGatewayWith(t, db, policy, nil)
}

// startGatewayWith is startGateway with a hook that adjusts the gateway's
// options (judges' test servers, more secrets).
func startGatewayWith(t testing.TB, db *testDB, policy string, adjust func(*gateway.Options)) *gw {
	t.Helper()
	if policy == "" {
		policy = `postgres(name = "db", port = 0, upstream = "127.0.0.1:5432", database = "DB_NAME",
         user = "DB_ROLE", password = secrets.env("DB_PASSWORD"), tls = "disable", on_query = check)`
	}
	g := &gw{t: t, dir: t.TempDir(), logs: &gatewaytest.LogBuffer{}, db: db}
	src := strings.NewReplacer("DB_NAME", db.Name, "DB_ROLE", db.Role).Replace(basePolicy + policy)
	if err := os.WriteFile(filepath.Join(g.dir, "ward.star"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	port := 0
	opts := gateway.Options{
		Config:        filepath.Join(g.dir, "ward.star"),
		StateDir:      filepath.Join(g.dir, "state"),
		ProxyPort:     &port,
		LogHandler:    slog.NewTextHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug}),
		Resolver:      builtins.Resolver{LookupEnv: func(name string) (string, bool) { return db.Password, name == "DB_PASSWORD" }},
		WatchInterval: -1,
	}
	if adjust != nil {
		adjust(&opts)
	}
	var err error
	g.gw, err = gateway.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if g.closed {
			// The test closed it.
		} else if err := g.gw.Close(ctx); err != nil {
			t.Errorf("close gateway: %v", err)
		}
		if strings.Contains(g.logs.String(), db.Password) {
			t.Errorf("the gateway log contains the database password")
		}
	})
	g.addr = g.gw.EndpointAddr("db").String()
	return g
}

// url is a connection string for agents: no password at all.
func (g *gw) url(extra string) string {
	host, port, _ := net.SplitHostPort(g.addr)
	u := fmt.Sprintf("postgres://agent@%s:%s/%s?sslmode=disable", host, port, g.db.Name)
	if extra != "" {
		u += "&" + extra
	}
	return u
}

// connect opens a pgx connection through the gateway.
func (g *gw) connect(extra string) *pgx.Conn {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, g.url(extra))
	if err != nil {
		g.t.Fatalf("connect through ward: %v\nlog:\n%s", err, g.logs.String())
	}
	g.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// psql runs psql through the gateway and returns its combined output.
func (g *gw) psql(args ...string) string {
	g.t.Helper()
	path, err := exec.LookPath("psql")
	if err != nil {
		needService(g.t, "psql", err)
	}
	host, port, _ := net.SplitHostPort(g.addr)
	full := append([]string{"-X", "-h", host, "-p", port, "-U", "agent", "-d", g.db.Name}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, full...)
	cmd.Env = append(os.Environ(), "PGPASSWORD=", "PGPASSFILE="+filepath.Join(g.dir, "no-pgpass"), "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run()
	return out.String()
}

// records returns every audited action.
func (g *gw) records() []audit.Record { return gatewaytest.Records(g.t, g.gw) }
