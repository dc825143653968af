package postgres_test

import (
	"context"
	"testing"
)

// TestSQLInExtensionFunctions: tablefunc (a trusted extension a database
// owner may install) and ts_stat run SQL given as a string, also when
// called in attribute notation; what that SQL reads and calls is decided
// like any other statement, and SQL built from arguments is refused.
func TestSQLInExtensionFunctions(t *testing.T) {
	db := newDB(t, "scram")
	if _, err := db.owner(t).Exec(context.Background(), "CREATE EXTENSION tablefunc"); err != nil {
		needService(t, "the tablefunc extension (postgresql contrib)", err)
	}
	db.exec(t, "CREATE TABLE deny_me (k text, p text); INSERT INTO deny_me VALUES ('secret', NULL)")
	g := startGateway(t, db, "")
	c := g.connect("")
	ctx := context.Background()
	for _, sql := range []string{
		"SELECT * FROM crosstab('SELECT k, k, k FROM deny_me') AS t(a text, b text)",
		"SELECT * FROM public.crosstab2('SELECT k, k, k FROM deny_me')",
		"SELECT * FROM crosstab('SELECT 1::text, 1::text, 1::text', 'SELECT k FROM deny_me') AS t(a text, b text)",
		"SELECT * FROM connectby('deny_me', 'k', 'p', 'secret', 0) AS t(k text, p text, l int)",
		"SELECT * FROM crosstab((SELECT 'SELECT k, k, k FROM deny_me')) AS t(a text, b text)",
		// Attribute notation calls a function of one argument.
		"SELECT ('SELECT k, k, k FROM deny_me'::text).crosstab2",
		"SELECT (('SELECT to_tsvector(k) FROM deny_me')::text).ts_stat",
		"SELECT (q).ts_stat FROM (SELECT 'SELECT to_tsvector(k) FROM deny_me'::text AS q) s",
	} {
		rows, err := c.Query(ctx, sql)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
		}
		if !isDenial(err) {
			t.Errorf("%s: %v, want a denial", sql, err)
		}
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM crosstab('SELECT 1::text, 2::text, 3::text') AS t(a text, b text)").Scan(&n); err != nil || n != 1 {
		t.Errorf("crosstab over allowed SQL: %d, %v", n, err)
	}
}

// TestFunctionBodiesWardCannotRead: a function whose body is not SQL or
// PL/pgSQL — an internal or C symbol, another procedural language — is
// refused, since ward could not report what calling it does. With a
// privileged upstream role, LANGUAGE internal would otherwise give
// pg_read_file a name no policy bans.
func TestFunctionBodiesWardCannotRead(t *testing.T) {
	db := newDB(t, "scram")
	ctx := context.Background()
	if _, err := db.admin.Exec(ctx, "ALTER ROLE "+db.Role+" SUPERUSER"); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, db, "")
	c := g.connect("")
	for _, sql := range []string{
		"CREATE FUNCTION rf(text) RETURNS text LANGUAGE internal STRICT AS 'pg_read_file_all'",
		"CREATE FUNCTION ex(oid, text) RETURNS int LANGUAGE c STRICT AS '$libdir/plpgsql', 'be_lo_export'",
	} {
		if _, err := c.Exec(ctx, sql); !isDenial(err) {
			t.Errorf("%s: %v, want a denial", sql, err)
		}
	}
	var n int
	if err := db.admin.QueryRow(ctx, "SELECT count(*) FROM pg_proc WHERE proname IN ('rf', 'ex')").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d functions were created (%v)", n, err)
	}
	if _, err := c.Exec(ctx, "CREATE FUNCTION ok(x text) RETURNS text LANGUAGE sql AS $$SELECT upper(x)$$"); err != nil {
		t.Errorf("an SQL function: %v", err)
	}
}
