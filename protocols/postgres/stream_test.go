package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCopyBothWays: COPY FROM STDIN and TO STDOUT of 100k rows.
func TestCopyBothWays(t *testing.T) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE big (id int, body text)")
	g := startGateway(t, db, "")
	c := g.connect("")
	ctx := context.Background()
	const rows = 100_000
	n, err := c.CopyFrom(ctx, pgx.Identifier{"big"}, []string{"id", "body"},
		pgx.CopyFromSlice(rows, func(i int) ([]any, error) { return []any{i, fmt.Sprintf("row %d", i)}, nil }))
	if err != nil || n != rows {
		t.Fatalf("COPY FROM STDIN: %d rows, %v", n, err)
	}
	var buf bytes.Buffer
	tag, err := c.PgConn().CopyTo(ctx, &buf, "COPY big TO STDOUT")
	if err != nil || tag.RowsAffected() != rows {
		t.Fatalf("COPY TO STDOUT: %v, %v", tag, err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != rows {
		t.Fatalf("COPY TO STDOUT gave %d lines", lines)
	}
	// psql's \copy uses the same messages.
	out := g.psql("-At", "-c", "COPY (SELECT count(*) FROM big) TO STDOUT")
	if strings.TrimSpace(out) != fmt.Sprint(rows) {
		t.Errorf("psql COPY: %q", out)
	}
	// COPY FROM STDIN of a denied table never starts.
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"deny_me"}, []string{"x"}, pgx.CopyFromRows([][]any{{1}})); !isDenial(err) {
		t.Errorf("denied COPY FROM: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("after a denied COPY: %v", err)
	}
}

// TestListenNotify: notifications cross the gateway with the notifying
// session's process ID (the one its BackendKeyData names).
func TestListenNotify(t *testing.T) {
	db := newDB(t, "scram")
	g := startGateway(t, db, "")
	listener, notifier := g.connect(""), g.connect("")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := listener.Exec(ctx, "LISTEN ward_test"); err != nil {
		t.Fatal(err)
	}
	if _, err := notifier.Exec(ctx, "NOTIFY ward_test, 'hello'"); err != nil {
		t.Fatal(err)
	}
	n, err := listener.WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Channel != "ward_test" || n.Payload != "hello" || n.PID != notifier.PgConn().PID() {
		t.Errorf("notification %+v, want from pid %d", n, notifier.PgConn().PID())
	}
}

// TestLargeResult: a result far larger than any buffer streams through.
func TestLargeResult(t *testing.T) {
	db := newDB(t, "scram")
	g := startGateway(t, db, "")
	c := g.connect("")
	ctx := context.Background()
	rows, err := c.Query(ctx, "SELECT g, repeat('x', 200) FROM generate_series(1, 500000) g")
	if err != nil {
		t.Fatal(err)
	}
	count, bytesSeen := 0, 0
	for rows.Next() {
		var id int
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		count++
		bytesSeen += len(s)
	}
	if err := rows.Err(); err != nil || count != 500000 {
		t.Fatalf("large result: %d rows, %v", count, err)
	}
	// One row of 64 MiB (a single DataRow message).
	var n int
	if err := c.QueryRow(ctx, "SELECT length(repeat('y', 64 << 20))").Scan(&n); err != nil || n != 64<<20 {
		t.Fatalf("length: %d %v", n, err)
	}
	var big string
	if err := c.QueryRow(ctx, "SELECT repeat('y', 64 << 20)").Scan(&big); err != nil || len(big) != 64<<20 {
		t.Fatalf("64 MiB value: %d bytes, %v", len(big), err)
	}
}
