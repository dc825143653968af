package postgres_test

import (
	"context"

	"github.com/jackc/pgx/v5/pgconn"
)

func connectRaw(ctx context.Context, url string) (*pgconn.PgConn, error) {
	return pgconn.Connect(ctx, url)
}
