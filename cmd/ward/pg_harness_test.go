package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgDB is a database and a SCRAM role with a real password made for one
// test on the local Postgres, dropped when the test ends.
type pgDB struct{ Name, Role, Password string }

func newPGDB(t *testing.T) *pgDB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		needPG(t, err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	var ok bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ward_scram')").Scan(&ok); err != nil || !ok {
		needPG(t, fmt.Errorf("the ward_scram group is missing (protocols/postgres/testdata/pg-auth-setup.sh makes it): %v", err))
	}
	b := make([]byte, 6)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	db := &pgDB{Name: "ward_run_" + suffix, Role: "ward_run_" + suffix, Password: "pw-" + suffix + suffix}
	for _, q := range []string{
		"SET password_encryption = 'scram-sha-256'",
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE ward_scram", db.Role, db.Password),
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
	return db
}

func needPG(t *testing.T, err error) {
	t.Helper()
	msg := fmt.Sprintf("Postgres at 127.0.0.1:5432 with the ward test roles is not available (%v); CI must provide it", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg) // outside CI only: CI=true failed above
}

// pgPolicy declares the test database as the postgres endpoint "db"; its
// password is the gateway's secret DB_PASSWORD.
func (db *pgDB) endpoint(port int, hook string, tls string) string {
	return fmt.Sprintf(`postgres(name = "db", port = %d, upstream = "127.0.0.1:5432", user = %q, database = %q,
         password = secrets.env("DB_PASSWORD"), tls = %q, on_query = %s)
`, port, db.Role, db.Name, tls, hook)
}
