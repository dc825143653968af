package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPsqlThroughWard: reads pass; DROP, a data-modifying CTE, a write at
// the end of a multi-statement string, COPY … TO PROGRAM and a filesystem
// function in several disguises are denied with 42501 and change nothing;
// the agent never knew the role's password.
func TestPsqlThroughWard(t *testing.T) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE users (id int PRIMARY KEY, email text); INSERT INTO users VALUES (1, 'a@example.com'), (2, 'b@example.com'); CREATE TABLE notes (body text)")
	g := startGateway(t, db, "")

	out := g.psql("-At", "-c", "SELECT email FROM users ORDER BY id")
	if strings.TrimSpace(out) != "a@example.com\nb@example.com" {
		t.Fatalf("read through ward: %q\nlog:\n%s", out, g.logs.String())
	}
	marker := filepath.Join(t.TempDir(), "copy-program-ran")
	denied := []struct{ name, sql string }{
		{"drop", "DROP TABLE users"},
		{"data-modifying CTE", "WITH gone AS (DELETE FROM users RETURNING *) SELECT count(*) FROM gone"},
		{"write at the end", "SELECT 1; SELECT * FROM notes; DELETE FROM users WHERE id = 1"},
		{"copy to program", "COPY (SELECT 1) TO PROGRAM 'touch " + marker + "'"},
		{"plain function", "SELECT pg_read_file('/etc/hostname')"},
		{"quoted", `SELECT "pg_read_file"('/etc/hostname')`},
		{"schema-qualified", "SELECT pg_catalog.pg_read_file('/etc/hostname')"},
		{"unicode escape", `SELECT U&"\0070g_read_file"('/etc/hostname')`},
		{"uescape", `SELECT U&"pg!005fread!005ffile" UESCAPE '!' ('/etc/hostname')`},
		{"upper case", "SELECT PG_READ_FILE('/etc/hostname')"},
		{"attribute notation", "SELECT ('/etc/hostname'::text).pg_read_file"},
		{"in a subquery", "SELECT * FROM notes WHERE body IN (SELECT pg_read_file('/etc/hostname'))"},
		{"in a DO block", "DO $$ BEGIN PERFORM pg_read_file('/etc/hostname'); END $$"},
		{"from clause", "SELECT * FROM pg_read_binary_file('/etc/hostname')"},
		{"comment-hidden", "SELECT 1 /* harmless */ ; /* also harmless */ DROP TABLE notes -- done"},
		{"dynamic SQL", "DO $$ BEGIN EXECUTE 'DR' || 'OP TABLE users'; END $$"},
		{"syntax error", "SELEC 1"},
	}
	for _, c := range denied {
		t.Run(c.name, func(t *testing.T) {
			out := g.psql("-v", "VERBOSITY=verbose", "-c", c.sql)
			if !strings.Contains(out, "ERROR:  42501: ward: denied: ") {
				t.Errorf("%s: want a 42501 denial, got %q", c.sql, out)
			}
		})
	}
	// Nothing reached the server.
	owner := db.owner(t)
	var n int
	if err := owner.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n); err != nil || n != 2 {
		t.Errorf("users after the denials: %d rows, err %v", n, err)
	}
	if err := owner.QueryRow(context.Background(), "SELECT count(*) FROM notes").Scan(&n); err != nil {
		t.Errorf("notes was dropped: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("COPY TO PROGRAM ran")
	}
	// The session stays usable after a denial, in the same connection.
	out = g.psql("-At", "-c", "DROP TABLE notes", "-c", "SELECT 41 + 1")
	if !strings.Contains(out, "ward: denied: schema changes land via migration PR") || !strings.Contains(out, "42") {
		t.Errorf("session after denial: %q", out)
	}
	// Every decision is in the audit log with its facts.
	var deniedRecs int
	for _, r := range g.records() {
		if r.Protocol == "postgres" && r.Verdict == "deny" {
			deniedRecs++
		}
	}
	if deniedRecs < len(denied)-2 { // the two refusals are recorded as refused
		t.Errorf("audit holds %d denials, want at least %d", deniedRecs, len(denied)-2)
	}
}

// TestPsqlNeedsNoPassword: the agent connects without the role's
// password; its own password attempt (if any) is never asked for.
func TestPsqlNeedsNoPassword(t *testing.T) {
	for _, method := range []string{"scram", "md5", "password"} {
		t.Run(method, func(t *testing.T) {
			db := newDB(t, method)
			g := startGateway(t, db, "")
			out := g.psql("-At", "-c", "SELECT current_user")
			if strings.TrimSpace(out) != db.Role {
				t.Fatalf("current_user through ward = %q, want %s\nlog:\n%s", out, db.Role, g.logs.String())
			}
		})
	}
}
