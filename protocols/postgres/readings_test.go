package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// misread is SQL that the server reads two ways. With
// standard_conforming_strings on (as ward reads it) it selects two
// strings; with it off, the backslash escapes the quote and the text
// deletes every row of users, then commits.
const misread = `WITH q AS (SELECT 'a\' AS x) SELECT ' AS x), d AS (DELETE FROM users RETURNING 1) SELECT 1 AS y, ' AS w FROM q -- '
; COMMIT`

func readyForQuery(m pgproto3.BackendMessage) bool {
	_, ok := m.(*pgproto3.ReadyForQuery)
	return ok
}

// TestSettingChangedOutOfSight: a statement that turns
// standard_conforming_strings off where ward cannot see it (a cursor over
// set_config with a computed name, advanced by FETCH) must not let text
// pipelined behind it be read by the server differently from how ward
// read and decided it.
func TestSettingChangedOutOfSight(t *testing.T) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE users (id int); INSERT INTO users VALUES (1), (2)")
	g := startGateway(t, db, "")
	c := g.raw(true)
	c.send(&pgproto3.Query{String: "BEGIN"})
	c.until(readyForQuery)
	c.send(&pgproto3.Query{String: `DECLARE c CURSOR FOR
		SELECT set_config(n, v, false), pg_sleep(s) FROM (VALUES ('application_name', 'x', 0), ('standard_conforming_strings', 'off', 0.5)) AS t(n, v, s)`})
	c.until(readyForQuery)
	c.send(&pgproto3.Query{String: "FETCH 1 FROM c"})
	c.until(readyForQuery)
	// The second FETCH turns the setting off; the text behind it arrives
	// while it runs.
	c.send(&pgproto3.Query{String: "FETCH 1 FROM c"}, &pgproto3.Query{String: misread})
	var replies []string
	for {
		m, err := c.fe.Receive()
		if err != nil {
			break
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			replies = append(replies, e.Code+" "+e.Message)
		}
		if rfq, ok := m.(*pgproto3.ReadyForQuery); ok && rfq.TxStatus == 'I' {
			break
		}
	}
	var n int
	if err := db.owner(t).QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("the server ran text ward read as a harmless SELECT as a DELETE: users has %d rows (replies %v)", n, replies)
	}
	if !strings.Contains(strings.Join(replies, "\n"), "standard_conforming_strings") {
		t.Errorf("no error names the setting: %v", replies)
	}
}

// TestTextThatReadsDifferentlyWhenIdle: such text is served as usual when
// nothing runs before it, pipelined pgx batches included (pgx parses a
// batch's new statements in a batch of their own).
func TestTextThatReadsDifferentlyWhenIdle(t *testing.T) {
	db := newDB(t, "scram")
	g := startGateway(t, db, "")
	c := g.connect("")
	ctx := context.Background()
	var s string
	if err := c.QueryRow(ctx, `SELECT 'a\b'`).Scan(&s); err != nil || s != `a\b` {
		t.Fatalf(`SELECT 'a\b' = %q, %v`, s, err)
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT 'c\d'`)
	b.Queue(`SELECT 'e\f' || $1`, "g")
	res := c.SendBatch(ctx, b)
	for _, want := range []string{`c\d`, `e\fg`} {
		if err := res.QueryRow().Scan(&s); err != nil || s != want {
			t.Fatalf("batch row = %q, %v; want %q", s, err, want)
		}
	}
	if err := res.Close(); err != nil {
		t.Fatal(err)
	}
}
