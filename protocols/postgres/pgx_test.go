package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func isDenial(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501" && strings.HasPrefix(pgErr.Message, "ward: denied: ")
}

// TestPgxExtendedProtocol: parameters, a prepared statement, denial at
// Parse, and the connection afterwards.
func TestPgxExtendedProtocol(t *testing.T) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE items (id int, name text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 10) g; CREATE TABLE deny_me (x int)")
	g := startGateway(t, db, "")
	c := g.connect("")
	ctx := context.Background()
	var name string
	if err := c.QueryRow(ctx, "SELECT name FROM items WHERE id = $1", 7).Scan(&name); err != nil || name != "n7" {
		t.Fatalf("extended query: %q, %v", name, err)
	}
	if _, err := c.Prepare(ctx, "by_id", "SELECT name FROM items WHERE id = $1"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := c.QueryRow(ctx, "by_id", i).Scan(&name); err != nil || name != "n"+string(rune('0'+i)) {
			t.Fatalf("prepared statement run %d: %q, %v", i, name, err)
		}
	}
	if _, err := c.Exec(ctx, "SELECT * FROM deny_me WHERE x = $1", 1); !isDenial(err) {
		t.Fatalf("denied extended query: %v", err)
	}
	if _, err := c.Prepare(ctx, "bad", "SELECT * FROM deny_me"); !isDenial(err) {
		t.Fatalf("denied prepare: %v", err)
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM items WHERE id > $1", 5).Scan(new(int)); err != nil {
		t.Fatalf("after denials: %v", err)
	}
	// SQL-level PREPARE/EXECUTE carry the prepared statement's facts.
	if _, err := c.Exec(ctx, "PREPARE wipe AS DELETE FROM users"); !isDenial(err) && err != nil && !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("prepare of a write to users: %v", err)
	}
	if _, err := c.Exec(ctx, "PREPARE peek AS SELECT * FROM deny_me"); !isDenial(err) {
		t.Fatalf("prepare of a denied read: %v", err)
	}
	if _, err := c.Exec(ctx, "EXECUTE peek"); !isDenial(err) {
		t.Fatalf("execute of a never-prepared statement: %v", err)
	}
}

// TestPgxPipelineWithDenialInTheMiddle: a batch with a denied statement in
// the middle fails as a server error would (nothing of it runs), and the
// same connection keeps working; with pgconn's pipeline mode, each Sync
// segment stands on its own.
func TestPgxPipelineWithDenialInTheMiddle(t *testing.T) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE log (n int); CREATE TABLE deny_me (x int)")
	g := startGateway(t, db, "")
	c := g.connect("")
	ctx := context.Background()

	b := &pgx.Batch{}
	b.Queue("INSERT INTO log VALUES (1)")
	b.Queue("SELECT * FROM deny_me")
	b.Queue("INSERT INTO log VALUES (3)")
	err := c.SendBatch(ctx, b).Close()
	if !isDenial(err) {
		t.Fatalf("batch with a denied statement: %v", err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM log").Scan(&n); err != nil {
		t.Fatalf("connection after the batch: %v", err)
	}
	if n != 0 {
		t.Errorf("log has %d rows: part of a failed batch ran", n)
	}

	// pgconn pipeline: three Sync segments, the middle one denied.
	p := c.PgConn().StartPipeline(ctx)
	p.SendQueryParams("INSERT INTO log VALUES (1)", nil, nil, nil, nil)
	p.SendPipelineSync()
	p.SendQueryParams("SELECT * FROM deny_me", nil, nil, nil, nil)
	p.SendPipelineSync()
	p.SendQueryParams("INSERT INTO log VALUES (3)", nil, nil, nil, nil)
	p.SendPipelineSync()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	var errs []error
	syncs := 0
	for syncs < 3 {
		res, err := p.GetResults()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch r := res.(type) {
		case *pgconn.ResultReader:
			if _, err := r.Close(); err != nil {
				errs = append(errs, err)
			}
		case *pgconn.PipelineSync:
			syncs++
		}
	}
	if err := p.Close(); err != nil {
		t.Fatalf("close pipeline: %v", err)
	}
	if len(errs) != 1 || !isDenial(errs[0]) {
		t.Fatalf("pipeline errors = %v, want exactly one denial", errs)
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM log").Scan(&n); err != nil || n != 2 {
		t.Errorf("log after the pipeline: %d rows, %v; want the two allowed inserts", n, err)
	}
}

// TestDenialInsideTransaction: a denial inside BEGIN aborts the
// transaction on both sides; ROLLBACK works and the session goes on.
func TestDenialInsideTransaction(t *testing.T) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE log (n int); CREATE TABLE deny_me (x int)")
	g := startGateway(t, db, "")
	for _, mode := range []string{"simple", "extended"} {
		t.Run(mode, func(t *testing.T) {
			extra := ""
			if mode == "simple" {
				extra = "default_query_exec_mode=simple_protocol"
			}
			c := g.connect(extra)
			ctx := context.Background()
			if _, err := c.Exec(ctx, "BEGIN"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Exec(ctx, "INSERT INTO log VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Exec(ctx, "SELECT * FROM deny_me"); !isDenial(err) {
				t.Fatalf("denied statement in a transaction: %v", err)
			}
			if st := c.PgConn().TxStatus(); st != 'E' {
				t.Fatalf("agent's transaction status after the denial = %q, want 'E'", st)
			}
			// The server agrees: it refuses anything but ROLLBACK.
			_, err := c.Exec(ctx, "SELECT 1")
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "25P02" {
				t.Fatalf("statement after the denial: %v, want 25P02 from the server", err)
			}
			if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
			if st := c.PgConn().TxStatus(); st != 'I' {
				t.Fatalf("status after ROLLBACK = %q", st)
			}
			var n int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM log").Scan(&n); err != nil || n != 0 {
				t.Errorf("log after ROLLBACK: %d rows, %v", n, err)
			}
		})
	}
}

// TestCancelThroughWard: a long statement cancelled by the agent returns
// promptly, with the server's cancellation error.
func TestCancelThroughWard(t *testing.T) {
	db := newDB(t, "scram")
	g := startGateway(t, db, "")
	c := g.connect("")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Exec(ctx, "SELECT pg_sleep(30)")
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("cancel took %s", took)
	}
	if err == nil {
		t.Fatal("pg_sleep(30) finished")
	}
	// pgx closes a connection whose query was interrupted; a fresh one works.
	c2 := g.connect("")
	if _, err := c2.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	// The server really cancelled (no pg_sleep left running).
	admin := db.admin
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'").Scan(&n)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pg_sleep(30) still runs on the server")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The cancel is also delivered with pgconn's own CancelRequest.
	c3 := g.connect("")
	done := make(chan error, 1)
	go func() {
		_, err := c3.Exec(context.Background(), "SELECT pg_sleep(30)")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := c3.PgConn().CancelRequest(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
			t.Fatalf("cancelled statement: %v, want 57014", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CancelRequest did not cancel")
	}
	if _, err := c3.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatalf("connection after a cancel: %v", err)
	}
}
