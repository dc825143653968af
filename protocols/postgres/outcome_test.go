package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardproject/ward/proxy/audit"
)

// TestActionsAreCompletedWithTheirOutcome: every forwarded statement's
// audit record is completed when the server answers — with the server's
// error when it fails — and what the server never answers is completed
// when the session ends.
func TestActionsAreCompletedWithTheirOutcome(t *testing.T) {
	db := newDB(t, "scram")
	g := startGateway(t, db, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := g.connect("")
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SELECT 1/0 AS boom"); err == nil {
		t.Fatal("division by zero succeeded")
	}
	b := &pgx.Batch{}
	b.Queue("SELECT 2 AS batched")
	b.Queue("SELECT 3 AS batched")
	if err := c.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	// A statement the server is still running when the agent goes away.
	c2 := g.connect("")
	go c2.Exec(context.Background(), "SELECT pg_sleep(30) AS abandoned")
	time.Sleep(300 * time.Millisecond)
	c2.PgConn().Conn().Close()

	byText := map[string]audit.Record{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, r := range g.records() {
			byText[r.Summary] = r
		}
		if a, ok := byText["SELECT pg_sleep(30) AS abandoned"]; ok && a.Completed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned statement was never completed: %+v", byText)
		}
		time.Sleep(50 * time.Millisecond)
	}
	check := func(sql, wantErr string) {
		t.Helper()
		r, ok := byText[sql]
		if !ok || !r.Completed || r.DurationMicros <= 0 || !strings.Contains(r.Error, wantErr) || (wantErr == "" && r.Error != "") {
			t.Errorf("%s: completed=%v duration=%dµs error=%q, want error %q", sql, r.Completed, r.DurationMicros, r.Error, wantErr)
		}
	}
	check("SELECT 1", "")
	check("SELECT 1/0 AS boom", "SQLSTATE 22012")
	check("SELECT 2 AS batched", "")
	check("SELECT 3 AS batched", "")
	// ward cancels it upstream when the agent leaves; the cancellation's
	// answer may or may not arrive before the session is torn down.
	if r := byText["SELECT pg_sleep(30) AS abandoned"]; !strings.Contains(r.Error, "SQLSTATE 57014") &&
		!strings.Contains(r.Error, "the session ended before the database answered") {
		t.Errorf("abandoned statement: error %q", r.Error)
	}
	for _, r := range byText {
		if r.Verdict == audit.VerdictAllow && !r.Completed {
			t.Errorf("forwarded but never completed: %s", r.Summary)
		}
	}
}
