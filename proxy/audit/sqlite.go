package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// schemaVersion is the version of the schema below, kept in PRAGMA
// user_version.
const schemaVersion = 2 // 2 added the approvals table

const schema = `
CREATE TABLE IF NOT EXISTS actions (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	time        TEXT    NOT NULL,
	protocol    TEXT    NOT NULL,
	endpoint    TEXT    NOT NULL,
	agent_name  TEXT    NOT NULL,
	agent       TEXT    NOT NULL,
	summary     TEXT    NOT NULL,
	facts       TEXT,
	raw         TEXT,
	verdict     TEXT    NOT NULL,
	reason      TEXT    NOT NULL DEFAULT '',
	decided_by  TEXT    NOT NULL DEFAULT '',
	policy_us   INTEGER NOT NULL DEFAULT 0,
	judge_us    INTEGER NOT NULL DEFAULT 0,
	details     TEXT,
	completed   INTEGER NOT NULL DEFAULT 0,
	status      INTEGER NOT NULL DEFAULT 0,
	bytes_in    INTEGER NOT NULL DEFAULT 0,
	bytes_out   INTEGER NOT NULL DEFAULT 0,
	duration_us INTEGER NOT NULL DEFAULT 0,
	error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS actions_verdict  ON actions (verdict);
CREATE INDEX IF NOT EXISTS actions_endpoint ON actions (endpoint);
CREATE INDEX IF NOT EXISTS actions_agent    ON actions (agent_name);
CREATE TABLE IF NOT EXISTS journal_positions (
	journal  TEXT    PRIMARY KEY,
	segment  INTEGER NOT NULL,
	"offset" INTEGER NOT NULL
);
`

// SQLiteStore is the embedded default [Store]: one SQLite file in WAL mode,
// which other processes (`ward log`) can read while the gateway writes.
type SQLiteStore struct {
	db       *sql.DB
	path     string
	readOnly bool
	// Logger receives notes about completions dropped for want of their
	// record; default slog.Default(). Set it before the store is used.
	Logger *slog.Logger
}

// OpenSQLite opens the SQLite store at path for reading and writing,
// creating the file (0600) and its schema if needed.
func OpenSQLite(path string) (*SQLiteStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: create folder for %s: %w", path, err)
	}
	// Create the file ourselves so that it gets 0600; SQLite gives its -wal
	// and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL: a commit survives the process but may be lost with the
	// machine; the journal still holds it then (its position rolls back
	// with it), and Sync makes everything durable before a journal segment
	// is deleted.
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	s, err := openSQLite(path, q, false)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// OpenSQLiteReadOnly opens the SQLite store at path for reading, as
// `ward log` and `ward fixture` do while a gateway writes to it. A missing
// file is an error that matches fs.ErrNotExist.
func OpenSQLiteReadOnly(path string) (*SQLiteStore, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &noAuditLogError{path: path}
		}
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_query_only", "1")
	return openSQLite(path, q, true)
}

// noAuditLogError reports a store file that does not exist.
type noAuditLogError struct{ path string }

func (e *noAuditLogError) Error() string {
	return fmt.Sprintf("no audit log at %s (has the gateway run with --state-dir %s?)", e.path, filepath.Dir(e.path))
}

func (e *noAuditLogError) Unwrap() error { return fs.ErrNotExist }

// openSQLite opens path with the query parameters q and checks that it is
// a database.
func openSQLite(path string, q url.Values, readOnly bool) (*SQLiteStore, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), OmitHost: true, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	return &SQLiteStore{db: db, path: path, readOnly: readOnly}, nil
}

// migrate creates the schema, or checks that the file's is one this code
// understands.
func (s *SQLiteStore) migrate() error {
	ctx := context.Background()
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("audit: read schema version of %s: %w", s.path, err)
	}
	if v > schemaVersion {
		return fmt.Errorf("audit: %s has schema version %d, newer than this ward understands (%d); upgrade ward", s.path, v, schemaVersion)
	}
	if _, err := s.db.ExecContext(ctx, schema+approvalSchema); err != nil {
		return fmt.Errorf("audit: create schema in %s: %w", s.path, err)
	}
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("audit: set schema version of %s: %w", s.path, err)
	}
	return nil
}

// Close closes the database.
func (s *SQLiteStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("audit: close %s: %w", s.path, err)
	}
	return nil
}

func (s *SQLiteStore) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

var _ Store = (*SQLiteStore)(nil)

// Sync makes every committed batch durable, surviving a machine crash. The
// journal calls it before deleting segments the store has loaded.
func (s *SQLiteStore) Sync(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(FULL)"); err != nil {
		return fmt.Errorf("audit: checkpoint %s: %w", s.path, err)
	}
	return nil
}
