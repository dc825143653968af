package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

const (
	insertAction = `INSERT INTO actions (
	id, time, protocol, endpoint, agent_name, agent, summary, facts, raw,
	verdict, reason, decided_by, policy_us, judge_us, details,
	completed, status, bytes_in, bytes_out, duration_us, error
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`

	completeAction = `UPDATE actions SET
	completed = 1, status = ?, bytes_in = ?, bytes_out = ?, duration_us = ?, error = ?
WHERE id = ?`

	savePosition = `INSERT INTO journal_positions (journal, segment, "offset") VALUES (?, ?, ?)
ON CONFLICT (journal) DO UPDATE SET segment = excluded.segment, "offset" = excluded."offset"`

	loadPosition = `SELECT segment, "offset" FROM journal_positions WHERE journal = ?`
)

// Apply stores entries and the journal's new position in one transaction.
func (s *SQLiteStore) Apply(ctx context.Context, journal string, entries []Entry, pos Position) (err error) {
	if s.readOnly {
		return fmt.Errorf("audit: %s is open read-only", s.path)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var insert, complete *sql.Stmt
	for _, e := range entries {
		switch {
		case e.Record != nil:
			if insert == nil {
				if insert, err = tx.PrepareContext(ctx, insertAction); err != nil {
					return fmt.Errorf("audit: prepare insert: %w", err)
				}
				defer insert.Close()
			}
			if err = insertRecord(ctx, insert, e.Record); err != nil {
				return err
			}
		case e.Completion != nil:
			if complete == nil {
				if complete, err = tx.PrepareContext(ctx, completeAction); err != nil {
					return fmt.Errorf("audit: prepare update: %w", err)
				}
				defer complete.Close()
			}
			if err = s.applyCompletion(ctx, complete, e.Completion); err != nil {
				return err
			}
		}
	}
	if _, err = tx.ExecContext(ctx, savePosition, journal, pos.Segment, pos.Offset); err != nil {
		return fmt.Errorf("audit: save journal position: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("audit: commit: %w", err)
	}
	return nil
}

// insertRecord inserts r unless a record with its ID is stored already.
func insertRecord(ctx context.Context, stmt *sql.Stmt, r *Record) error {
	agent, err := json.Marshal(r.Agent)
	if err != nil {
		return fmt.Errorf("audit: encode agent of %s: %w", r.ID, err)
	}
	_, err = stmt.ExecContext(ctx,
		r.ID, r.Time.UTC().Format(time.RFC3339Nano), r.Protocol, r.Endpoint,
		r.Agent.Name, string(agent), r.Summary, nullJSON(r.Facts), nullJSON(r.Raw),
		r.Verdict, r.Reason, r.DecidedBy, r.PolicyMicros, r.JudgeMicros, nullJSON(r.Details),
		r.Completed, r.Status, r.BytesIn, r.BytesOut, r.DurationMicros, r.Error)
	if err != nil {
		return fmt.Errorf("audit: insert %s: %w", r.ID, err)
	}
	return nil
}

// applyCompletion records c on its action, or logs and drops it if the
// action is unknown.
func (s *SQLiteStore) applyCompletion(ctx context.Context, stmt *sql.Stmt, c *Completion) error {
	res, err := stmt.ExecContext(ctx, c.Status, c.BytesIn, c.BytesOut, c.Duration.Microseconds(), c.Error, c.ID)
	if err != nil {
		return fmt.Errorf("audit: complete %s: %w", c.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		s.logger().Warn("audit: dropping the completion of an unknown action", "id", c.ID)
	}
	return nil
}

// nullJSON stores an absent JSON value as NULL.
func nullJSON(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// Position returns how far the journal has been loaded.
func (s *SQLiteStore) Position(ctx context.Context, journal string) (Position, error) {
	var p Position
	err := s.db.QueryRowContext(ctx, loadPosition, journal).Scan(&p.Segment, &p.Offset)
	if errors.Is(err, sql.ErrNoRows) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("audit: read journal position: %w", err)
	}
	return p, nil
}
