package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkSelectThroughWard is pgbench -S through an in-process gateway:
// the same statement with a different literal each time.
func BenchmarkSelectThroughWard(b *testing.B) {
	db := newDB(b, "scram")
	db.exec(b, "CREATE TABLE accounts_b (aid int PRIMARY KEY, abalance int); INSERT INTO accounts_b SELECT g, 0 FROM generate_series(1, 1000) g")
	g := startGateway(b, db, "")
	c, err := pgx.Connect(context.Background(), g.url("default_query_exec_mode=simple_protocol"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		var n int
		if err := c.QueryRow(ctx, fmt.Sprintf("SELECT abalance FROM accounts_b WHERE aid = %d;", i%1000+1)).Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
}
