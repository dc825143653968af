package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/judges/slack/slackfake"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
)

// heldPolicy sends every write to a Slack approver; a statement held
// inside a transaction is denied after max_hold_in_transaction.
const heldPolicy = `
ops = slack.approver(channel = "#db-ops", bot_token = secrets.env("SLACK_BOT"), app_token = secrets.env("SLACK_APP"),
                     approvers = ["U0DBA"], timeout = "20s")

def check_held(q):
    if q.writes:
        return ops.ask(q, note = "write by " + q.agent.name)
    return allow()

postgres(name = "db", port = 0, upstream = "127.0.0.1:5432", database = "DB_NAME", user = "DB_ROLE",
         password = secrets.env("DB_PASSWORD"), tls = "disable", on_query = check_held,
         max_hold_in_transaction = "1500ms")
`

func startHeld(t *testing.T, db *testDB) (*gw, *slackfake.Fake) {
	fake := slackfake.New(t)
	g := startGatewayWith(t, db, heldPolicy, func(o *gateway.Options) {
		o.SlackAPIURL, o.JudgeHTTPClient = fake.APIURL(), fake.Client()
		o.Resolver = builtins.Resolver{LookupEnv: func(n string) (string, bool) {
			v, ok := map[string]string{"DB_PASSWORD": db.Password, "SLACK_BOT": "xoxb-pg", "SLACK_APP": "xapp-pg"}[n]
			return v, ok
		}}
	})
	return g, fake
}

// pendingApproval waits for the posted request and returns its approval.
func (g *gw) pendingApproval(fake *slackfake.Fake, n int) audit.Approval {
	g.t.Helper()
	fake.WaitCalls("chat.postMessage", n)
	store, err := audit.OpenSQLiteReadOnly(filepath.Join(g.dir, "state", "audit.db"))
	if err != nil {
		g.t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if list, _ := store.ListApprovals(context.Background(), audit.ApprovalFilter{State: audit.ApprovalPending}); len(list) == 1 {
			return list[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.t.Fatal("no pending approval")
	return audit.Approval{}
}

func TestStatementHeldBySlackRunsAfterApproval(t *testing.T) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE orders (id int)")
	g, fake := startHeld(t, db)
	c := g.connect("")
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), "INSERT INTO orders VALUES (42)")
		done <- err
	}()
	a := g.pendingApproval(fake, 1)
	if a.Summary != "INSERT INTO orders VALUES (42)" || a.Note != "write by local" || a.Endpoint != "db" {
		t.Errorf("approval %+v", a)
	}
	if post := fake.Calls("chat.postMessage")[0]; !strings.Contains(post.Text(), "INSERT INTO orders VALUES (42)") || strings.Contains(post.Text(), db.Password) {
		t.Errorf("posted:\n%s", post.Text())
	}
	// Held: nothing ran upstream yet.
	var n int
	if err := db.owner(t).QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 0 {
		t.Fatalf("before the click: %d rows, %v", n, err)
	}
	fake.Interactive(slackfake.ClickPayload(a.ID, "U0DBA", true))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("approved INSERT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the approved statement did not run")
	}
	if err := db.owner(t).QueryRow(context.Background(), "SELECT count(*) FROM orders WHERE id = 42").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after the click: %d rows, %v", n, err)
	}
	rec := findRecord(t, g, "INSERT INTO orders VALUES (42)")
	if rec.Verdict != audit.VerdictAllow || rec.DecidedBy != "slack:U0DBA" || rec.JudgeMicros <= 0 {
		t.Fatalf("audit %+v", rec)
	}
}

func findRecord(t *testing.T, g *gw, summary string) audit.Record {
	t.Helper()
	for _, r := range g.records() {
		if r.Summary == summary {
			return r
		}
	}
	t.Fatalf("no audit record for %q", summary)
	return audit.Record{}
}

func TestHeldInsideATransaction(t *testing.T) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE orders (id int)")
	g, fake := startHeld(t, db)
	c := g.connect("")
	ctx := context.Background()

	// Approved in time: the transaction goes on and commits.
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Exec(ctx, "INSERT INTO orders VALUES (1)"); done <- err }()
	a := g.pendingApproval(fake, 1)
	fake.Interactive(slackfake.ClickPayload(a.ID, "U0DBA", true))
	if err := <-done; err != nil {
		t.Fatalf("approved in time: %v", err)
	}
	if _, err := c.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}

	// Nobody decides within max_hold_in_transaction: denied, and the
	// transaction is left failed, as for any denial inside one.
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.Exec(ctx, "INSERT INTO orders VALUES (2)")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(pgErr.Message, "max_hold_in_transaction (1.5s)") {
		t.Fatalf("held too long: %v", err)
	}
	if took := time.Since(start); took < 1400*time.Millisecond || took > 10*time.Second {
		t.Errorf("denied after %s, want about 1.5s", took)
	}
	if st := c.PgConn().TxStatus(); st != 'E' {
		t.Errorf("transaction status %q, want E", st)
	}
	if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	upd := fake.WaitCalls("chat.update", 2)[1]
	if !strings.Contains(upd.Text(), "Timed out") {
		t.Errorf("message: %s", upd.Text())
	}
	var n int
	if err := db.owner(t).QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows %d, %v", n, err)
	}

	// The audit record keeps how long the connection was held, per agent.
	rec := findRecord(t, g, "INSERT INTO orders VALUES (2)")
	var d struct {
		Hold struct {
			Connection       string `json:"connection"`
			HeldUS           int64  `json:"held_us"`
			ConnectionHeldUS int64  `json:"connection_held_us"`
			MaxUS            int64  `json:"max_us"`
		} `json:"hold"`
	}
	if err := json.Unmarshal(rec.Details, &d); err != nil {
		t.Fatal(err)
	}
	first := findRecord(t, g, "INSERT INTO orders VALUES (1)")
	if rec.Verdict != audit.VerdictDeny || rec.DecidedBy != "timeout" || rec.Agent.Name != "local" ||
		d.Hold.HeldUS < 1_400_000 || d.Hold.MaxUS != 1_500_000 || !strings.Contains(d.Hold.Connection, "backend pid") ||
		d.Hold.ConnectionHeldUS < d.Hold.HeldUS+first.JudgeMicros/2 {
		t.Fatalf("record %+v details %s", rec, rec.Details)
	}
}
