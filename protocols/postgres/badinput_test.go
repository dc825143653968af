package postgres_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// rawClient is a hand-driven protocol client.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	fe   *pgproto3.Frontend
}

func (g *gw) raw(login bool) *rawClient {
	g.t.Helper()
	conn, err := net.DialTimeout("tcp", g.addr, 5*time.Second)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	c := &rawClient{t: g.t, conn: conn, fe: pgproto3.NewFrontend(conn, conn)}
	if login {
		c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
			Parameters: map[string]string{"user": "agent", "database": g.db.Name}})
		c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
	}
	return c
}

func (c *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	for _, m := range msgs {
		c.fe.Send(m)
	}
	if err := c.fe.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// until reads messages until stop returns true; it returns them all.
func (c *rawClient) until(stop func(pgproto3.BackendMessage) bool) []pgproto3.BackendMessage {
	c.t.Helper()
	var out []pgproto3.BackendMessage
	for {
		m, err := c.fe.Receive()
		if err != nil {
			c.t.Fatalf("receive: %v (after %v)", err, out)
		}
		out = append(out, describe(m))
		if stop(m) {
			return out
		}
	}
}

// describe copies the messages tests inspect (Receive reuses them).
func describe(m pgproto3.BackendMessage) pgproto3.BackendMessage {
	switch m := m.(type) {
	case *pgproto3.ErrorResponse:
		c := *m
		return &c
	case *pgproto3.ReadyForQuery:
		c := *m
		return &c
	}
	return m
}

// closedWithin waits for the gateway to close the connection, returning
// what it sent last.
func (c *rawClient) closedWithin(d time.Duration) string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	data, err := io.ReadAll(c.conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatalf("the gateway kept the connection open for %s", d)
	}
	return string(data)
}

func sessionsOf(t *testing.T, db *testDB) int {
	var n int
	if err := db.admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE usename = $1", db.Role).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitSessions(t *testing.T, db *testDB, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for sessionsOf(t, db) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d upstream sessions of %s, want %d", sessionsOf(t, db), db.Role, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBadInput: garbage, truncated, oversized and unknown messages, and
// clients that vanish, get a clear error and a clean close, and leave no
// upstream session behind.
func TestBadInput(t *testing.T) {
	db := newDB(t, "scram")
	g := startGateway(t, db, `postgres(name = "db", port = 0, upstream = "127.0.0.1:5432", database = "DB_NAME",
         user = "DB_ROLE", password = secrets.env("DB_PASSWORD"), tls = "disable", on_query = check, max_message = "128KiB", max_query = "64KiB")`)

	t.Run("garbage before startup", func(t *testing.T) {
		c := g.raw(false)
		c.conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		if out := c.closedWithin(5 * time.Second); !strings.Contains(out, "invalid startup packet length") {
			t.Errorf("reply to garbage: %q", out)
		}
	})
	t.Run("truncated startup", func(t *testing.T) {
		c := g.raw(false)
		var hdr [8]byte
		binary.BigEndian.PutUint32(hdr[:], 100)
		c.conn.Write(hdr[:])
		c.conn.(*net.TCPConn).CloseWrite()
		c.closedWithin(5 * time.Second)
	})
	t.Run("unknown message type", func(t *testing.T) {
		c := g.raw(true)
		c.conn.Write([]byte{'z', 0, 0, 0, 4})
		if out := c.closedWithin(5 * time.Second); !strings.Contains(out, "08P01") || !strings.Contains(out, "unknown message type") {
			t.Errorf("reply to an unknown message: %q", out)
		}
		waitSessions(t, db, 0)
	})
	t.Run("oversized message", func(t *testing.T) {
		c := g.raw(true)
		c.send(&pgproto3.Query{String: "SELECT '" + strings.Repeat("x", 200<<10) + "'"})
		if out := c.closedWithin(5 * time.Second); !strings.Contains(out, "54000") || !strings.Contains(out, "max_message") {
			t.Errorf("reply to an oversized message: %q", out)
		}
		waitSessions(t, db, 0)
	})
	t.Run("truncated message", func(t *testing.T) {
		c := g.raw(true)
		c.conn.Write([]byte{'Q', 0, 0, 1, 0, 'S', 'E'})
		c.conn.(*net.TCPConn).CloseWrite()
		c.closedWithin(5 * time.Second)
		waitSessions(t, db, 0)
	})
	t.Run("client vanishes mid-query", func(t *testing.T) {
		c := g.raw(true)
		c.send(&pgproto3.Query{String: "SELECT pg_sleep(30)"})
		time.Sleep(200 * time.Millisecond)
		c.conn.Close()
		waitSessions(t, db, 0)
	})
	t.Run("deeply nested statement", func(t *testing.T) {
		// 60 kB of a+b+c… once crashed the gateway in libpg_query.
		c := g.raw(true)
		c.send(&pgproto3.Query{String: "SELECT " + strings.Repeat("1+", 30000) + "1"})
		msgs := c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
		if e, ok := msgs[0].(*pgproto3.ErrorResponse); !ok || e.Code != "42501" || !strings.Contains(e.Message, "nest") {
			t.Fatalf("reply to a deeply nested statement: %+v", msgs)
		}
		c.send(&pgproto3.Query{String: "SELECT 1"})
		c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
		c.send(&pgproto3.Terminate{})
		c.closedWithin(5 * time.Second)
		waitSessions(t, db, 0)
	})
	t.Run("statement text over max_query", func(t *testing.T) {
		// Analysis takes some 300 bytes of memory per byte of SQL: a
		// message up to max_message (64 MiB by default) would exhaust the
		// gateway's memory before any policy ran (the default max_query is
		// 1 MiB; 64 KiB here).
		c := g.raw(true)
		c.send(&pgproto3.Query{String: strings.Repeat("SELECT 1;", 64<<10/9+1)})
		msgs := c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
		if e, ok := msgs[0].(*pgproto3.ErrorResponse); !ok || e.Code != "42501" || !strings.Contains(e.Message, "max_query") {
			t.Fatalf("reply to a statement text over max_query: %+v", msgs[0])
		}
		c.send(&pgproto3.Query{String: "SELECT 1"})
		c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
		c.send(&pgproto3.Terminate{})
		c.closedWithin(5 * time.Second)
		waitSessions(t, db, 0)
	})
	t.Run("fastpath function call", func(t *testing.T) {
		c := g.raw(true)
		c.send(&pgproto3.FunctionCall{Function: 2620, Arguments: [][]byte{[]byte("/etc/hostname")}, ResultFormatCode: 0})
		msgs := c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
		e, ok := msgs[0].(*pgproto3.ErrorResponse)
		if !ok || e.Code != "42501" || !strings.Contains(e.Message, "fastpath") {
			t.Fatalf("reply to FunctionCall: %+v", msgs)
		}
		c.send(&pgproto3.Query{String: "SELECT 1"})
		c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
		c.send(&pgproto3.Terminate{})
		c.closedWithin(5 * time.Second)
		waitSessions(t, db, 0)
	})
	t.Run("upstream dies", func(t *testing.T) {
		c := g.connect("")
		pid := c.PgConn().PID()
		if _, err := db.admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(context.Background(), "SELECT 1"); err == nil {
			t.Fatal("query on a dead upstream session succeeded")
		}
		waitSessions(t, db, 0)
		// The gateway serves new sessions.
		if _, err := g.connect("").Exec(context.Background(), "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("startup parameters that bypass the policy", func(t *testing.T) {
		for _, extra := range []string{"options=-c%20role%3Dpostgres", "search_path=evil", "client_encoding=SJIS", "replication=database"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := connectRaw(ctx, g.url(extra))
			cancel()
			if err == nil {
				c.Close(context.Background())
				t.Errorf("connected with %s", extra)
			}
		}
	})
}
