package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// TestShutdownWithAnAgentThatDoesNotRead: an agent that asks for a large
// result and stops reading blocks the relay's writes to it; shutting the
// gateway down must still end its session promptly rather than wait on
// it forever.
func TestShutdownWithAnAgentThatDoesNotRead(t *testing.T) {
	db := newDB(t, "scram")
	g := startGateway(t, db, "")
	c := g.raw(true)
	c.send(&pgproto3.Query{String: "SELECT repeat('x', 100000) FROM generate_series(1, 2000)"})
	time.Sleep(time.Second) // the relay is now blocked writing to the agent
	g.closed = true
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- g.gw.Close(ctx)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the gateway did not shut down: a session blocked on an agent that does not read held it")
	}
}
