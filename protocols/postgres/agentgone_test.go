package postgres_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/wardproject/ward/judges/slack/slackfake"
	"github.com/wardproject/ward/proxy/audit"
)

// An agent that disconnects while its statement waits for a human cancels
// the wait (the approval is closed "cancelled", the Slack message says
// so), and a late click does not run the statement for nobody.
func TestAgentGoneWhileHeldCancelsTheWait(t *testing.T) {
	db, g, fake, hc := rawHeldSession(t, "INSERT INTO orders VALUES (7)")
	a := g.pendingApproval(fake, 1)
	hc.Conn.Close() // the agent dies

	store, err := audit.OpenSQLiteReadOnly(filepath.Join(g.dir, "state", "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := store.GetApproval(context.Background(), a.ID)
		if got.State == audit.ApprovalCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after the agent left, the approval is %q (%s)", got.State, got.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fake.Interactive(slackfake.ClickPayload(a.ID, "U0DBA", true))
	time.Sleep(300 * time.Millisecond)
	var n int
	if err := db.owner(t).QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the statement of a departed agent ran: %d rows, %v", n, err)
	}
}

// What the agent pipelined behind a held statement is read ahead while it
// waits and replayed in order after the verdict.
func TestPipelinedBehindAHeldStatement(t *testing.T) {
	_, g, fake, hc := rawHeldSession(t, "INSERT INTO orders VALUES (1)", "SELECT count(*) FROM orders")
	defer hc.Conn.Close()
	a := g.pendingApproval(fake, 1)
	time.Sleep(200 * time.Millisecond) // the agent is watched (and read ahead) now
	fake.Interactive(slackfake.ClickPayload(a.ID, "U0DBA", true))
	hc.Conn.SetDeadline(time.Now().Add(10 * time.Second))
	fe := pgproto3.NewFrontend(hc.Conn, hc.Conn)
	var tags, rfqs []string
	var count string
	for len(rfqs) < 2 {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("after %v %v: %v", tags, rfqs, err)
		}
		switch m := msg.(type) {
		case *pgproto3.CommandComplete:
			tags = append(tags, string(m.CommandTag))
		case *pgproto3.DataRow:
			count = string(m.Values[0])
		case *pgproto3.ErrorResponse:
			t.Fatalf("error: %s", m.Message)
		case *pgproto3.ReadyForQuery:
			rfqs = append(rfqs, string(m.TxStatus))
		}
	}
	if len(tags) != 2 || tags[0] != "INSERT 0 1" || tags[1] != "SELECT 1" || count != "1" {
		t.Fatalf("tags %v, count %q", tags, count)
	}
}

// rawHeldSession connects through a gateway holding writes for Slack and
// sends queries in one write on the raw connection: pgx would send a
// CancelRequest when its socket fails, while a killed agent sends
// nothing, its socket just closes.
func rawHeldSession(t *testing.T, queries ...string) (*testDB, *gw, *slackfake.Fake, *pgconn.HijackedConn) {
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE orders (id int)")
	g, fake := startHeld(t, db)
	hc, err := g.connect("").PgConn().Hijack()
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for _, q := range queries {
		buf, _ = (&pgproto3.Query{String: q}).Encode(buf)
	}
	if _, err := hc.Conn.Write(buf); err != nil {
		t.Fatal(err)
	}
	return db, g, fake, hc
}
