package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// insertColumns are the columns of one inserted action, in order.
const insertColumns = `id, time, protocol, endpoint, agent_name, agent, summary, facts, raw,
	verdict, reason, decided_by, policy_us, judge_us, details,
	completed, status, bytes_in, bytes_out, duration_us, error`

// insertChunk is how many actions one INSERT statement carries. One
// statement per action costs more in database/sql than in SQLite.
const insertChunk = 64

const (
	completeAction = `UPDATE actions SET
	completed = 1, status = ?, bytes_in = ?, bytes_out = ?, duration_us = ?, error = ?
WHERE id = ?`

	savePosition = `INSERT INTO journal_positions (journal, segment, "offset") VALUES (?, ?, ?)
ON CONFLICT (journal) DO UPDATE SET segment = excluded.segment, "offset" = excluded."offset"`

	loadPosition = `SELECT segment, "offset" FROM journal_positions WHERE journal = ?`
)

// insertActions returns an INSERT of n actions that skips IDs already stored.
func insertActions(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", 21), ", ") + ")"
	rows := strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	return "INSERT INTO actions (" + insertColumns + ") VALUES " + rows + " ON CONFLICT (id) DO NOTHING"
}

// Apply stores entries and the journal's new position in one transaction.
// A completion whose record is in the same batch is folded into the
// record, so the common case costs one insert and no update.
func (s *SQLiteStore) Apply(ctx context.Context, journal string, entries []Entry, pos Position) (err error) {
	if s.readOnly {
		return fmt.Errorf("audit: %s is open read-only", s.path)
	}
	records, completions := fold(entries)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = insertRecords(ctx, tx, records); err != nil {
		return err
	}
	if len(completions) > 0 {
		complete, err := tx.PrepareContext(ctx, completeAction)
		if err != nil {
			return fmt.Errorf("audit: prepare update: %w", err)
		}
		defer complete.Close()
		for _, c := range completions {
			if err = s.applyCompletion(ctx, complete, c); err != nil {
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

// fold splits entries into records and completions, applying each
// completion to a record of the same batch where there is one. Records are
// copied, never modified in place.
func fold(entries []Entry) ([]*Record, []*Completion) {
	var records []*Record
	var completions []*Completion
	index := make(map[string]int, len(entries))
	for _, e := range entries {
		switch {
		case e.Record != nil:
			r := *e.Record
			index[r.ID] = len(records)
			records = append(records, &r)
		case e.Completion != nil:
			c := e.Completion
			if i, ok := index[c.ID]; ok {
				r := records[i]
				r.Completed, r.Status, r.BytesIn, r.BytesOut = true, c.Status, c.BytesIn, c.BytesOut
				r.DurationMicros, r.Error = c.Duration.Microseconds(), c.Error
				continue
			}
			completions = append(completions, c)
		}
	}
	return records, completions
}

// insertRecords inserts records in chunks, skipping IDs already stored.
func insertRecords(ctx context.Context, tx *sql.Tx, records []*Record) error {
	var full *sql.Stmt
	for len(records) > 0 {
		n := min(len(records), insertChunk)
		args := make([]any, 0, n*21)
		for _, r := range records[:n] {
			row, err := recordArgs(r)
			if err != nil {
				return err
			}
			args = append(args, row...)
		}
		var err error
		if n == insertChunk {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, insertActions(insertChunk)); err != nil {
					return fmt.Errorf("audit: prepare insert: %w", err)
				}
				defer full.Close()
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertActions(n), args...)
		}
		if err != nil {
			return fmt.Errorf("audit: insert %d actions from %s: %w", n, records[0].ID, err)
		}
		records = records[n:]
	}
	return nil
}

// recordArgs are r's column values, in insertColumns order.
func recordArgs(r *Record) ([]any, error) {
	agent, err := json.Marshal(r.Agent)
	if err != nil {
		return nil, fmt.Errorf("audit: encode agent of %s: %w", r.ID, err)
	}
	return []any{
		r.ID, r.Time.UTC().Format(time.RFC3339Nano), r.Protocol, r.Endpoint,
		r.Agent.Name, string(agent), r.Summary, nullJSON(r.Facts), nullJSON(r.Raw),
		r.Verdict, r.Reason, r.DecidedBy, r.PolicyMicros, r.JudgeMicros, nullJSON(r.Details),
		r.Completed, r.Status, r.BytesIn, r.BytesOut, r.DurationMicros, r.Error,
	}, nil
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
