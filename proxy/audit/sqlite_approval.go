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

// approvalSchema is the durable approval queue. It is created by the same
// migration as the actions table.
const approvalSchema = `
CREATE TABLE IF NOT EXISTS approvals (
	id         TEXT PRIMARY KEY,
	action_id  TEXT NOT NULL,
	owner      TEXT NOT NULL,
	judge      TEXT NOT NULL,
	created    TEXT NOT NULL,
	expires    TEXT NOT NULL,
	protocol   TEXT NOT NULL,
	endpoint   TEXT NOT NULL,
	agent      TEXT NOT NULL,
	summary    TEXT NOT NULL,
	note       TEXT NOT NULL DEFAULT '',
	facts      TEXT,
	state      TEXT NOT NULL,
	decided_by TEXT NOT NULL DEFAULT '',
	reason     TEXT NOT NULL DEFAULT '',
	decided    TEXT NOT NULL DEFAULT '',
	ref        TEXT
);
CREATE INDEX IF NOT EXISTS approvals_state ON approvals (state, owner);
`

const approvalColumns = `id, action_id, owner, judge, created, expires, protocol, endpoint, agent,
	summary, note, facts, state, decided_by, reason, decided, ref`

// CreateApproval stores a new pending approval.
func (s *SQLiteStore) CreateApproval(ctx context.Context, a *Approval) error {
	if s.readOnly {
		return fmt.Errorf("audit: %s is open read-only", s.path)
	}
	if a.ID == "" || a.State != ApprovalPending {
		return fmt.Errorf("audit: a new approval needs an ID and state %q", ApprovalPending)
	}
	agent, err := json.Marshal(a.Agent)
	if err != nil {
		return fmt.Errorf("audit: encode agent of approval %s: %w", a.ID, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO approvals (`+approvalColumns+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.ActionID, a.Owner, a.Judge, formatTime(a.Created), formatTime(a.Expires), a.Protocol, a.Endpoint,
		string(agent), a.Summary, a.Note, nullJSON(a.Facts), a.State, a.DecidedBy, a.Reason, formatTime(a.Decided), nullJSON(a.Ref))
	if err != nil {
		return fmt.Errorf("audit: create approval %s: %w", a.ID, err)
	}
	return nil
}

// SetApprovalRef records the judge's reference to its request.
func (s *SQLiteStore) SetApprovalRef(ctx context.Context, id string, ref json.RawMessage) error {
	if s.readOnly {
		return fmt.Errorf("audit: %s is open read-only", s.path)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE approvals SET ref = ? WHERE id = ?`, nullJSON(ref), id); err != nil {
		return fmt.Errorf("audit: approval %s: %w", id, err)
	}
	return nil
}

// DecideApproval moves a pending approval to state, once.
func (s *SQLiteStore) DecideApproval(ctx context.Context, id, state, by, reason string, at time.Time) (a Approval, decided bool, err error) {
	if s.readOnly {
		return Approval{}, false, fmt.Errorf("audit: %s is open read-only", s.path)
	}
	if !validApprovalState(state) {
		return Approval{}, false, fmt.Errorf("audit: %q is not a decided approval state", state)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Approval{}, false, fmt.Errorf("audit: begin: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE approvals SET state = ?, decided_by = ?, reason = ?, decided = ?
WHERE id = ? AND state = ?`, state, by, reason, formatTime(at), id, ApprovalPending)
	if err != nil {
		return Approval{}, false, fmt.Errorf("audit: decide approval %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Approval{}, false, fmt.Errorf("audit: decide approval %s: %w", id, err)
	}
	a, err = scanApproval(tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Approval{}, false, fmt.Errorf("audit: approval %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Approval{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return Approval{}, false, fmt.Errorf("audit: commit: %w", err)
	}
	return a, n == 1, nil
}

// GetApproval returns the approval with the ID.
func (s *SQLiteStore) GetApproval(ctx context.Context, id string) (Approval, error) {
	a, err := scanApproval(s.db.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Approval{}, fmt.Errorf("audit: approval %s: %w", id, ErrNotFound)
	}
	return a, err
}

// ListApprovals returns approvals matching f, oldest first.
func (s *SQLiteStore) ListApprovals(ctx context.Context, f ApprovalFilter) ([]Approval, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	q := `SELECT ` + approvalColumns + ` FROM approvals`
	args := []any{}
	if f.State != "" {
		q += ` WHERE state = ?`
		args = append(args, f.State)
	}
	q += ` ORDER BY id ASC LIMIT ?`
	args = append(args, limit)
	return s.queryApprovals(ctx, q, args...)
}

// CloseOwnerPending decides every approval still pending for owner.
func (s *SQLiteStore) CloseOwnerPending(ctx context.Context, owner, state, by, reason string, at time.Time) ([]Approval, error) {
	if s.readOnly {
		return nil, fmt.Errorf("audit: %s is open read-only", s.path)
	}
	if !validApprovalState(state) {
		return nil, fmt.Errorf("audit: %q is not a decided approval state", state)
	}
	pending, err := s.queryApprovals(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE owner = ? AND state = ?`, owner, ApprovalPending)
	if err != nil {
		return nil, err
	}
	var closed []Approval
	for _, p := range pending {
		a, ok, err := s.DecideApproval(ctx, p.ID, state, by, reason, at)
		if err != nil {
			return closed, err
		}
		if ok {
			closed = append(closed, a)
		}
	}
	return closed, nil
}

func (s *SQLiteStore) queryApprovals(ctx context.Context, q string, args ...any) ([]Approval, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil && strings.Contains(err.Error(), "no such table: approvals") {
		return nil, nil // a store written by a ward from before approvals: none pending
	}
	if err != nil {
		return nil, fmt.Errorf("audit: list approvals: %w", err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list approvals: %w", err)
	}
	return out, nil
}

func scanApproval(row interface{ Scan(...any) error }) (Approval, error) {
	var (
		a                               Approval
		created, expires, decided, agnt string
		facts, ref                      sql.NullString
	)
	err := row.Scan(&a.ID, &a.ActionID, &a.Owner, &a.Judge, &created, &expires, &a.Protocol, &a.Endpoint, &agnt,
		&a.Summary, &a.Note, &facts, &a.State, &a.DecidedBy, &a.Reason, &decided, &ref)
	if errors.Is(err, sql.ErrNoRows) {
		return Approval{}, err
	}
	if err != nil {
		return Approval{}, fmt.Errorf("audit: read approval: %w", err)
	}
	for _, f := range []struct {
		s string
		t *time.Time
	}{{created, &a.Created}, {expires, &a.Expires}, {decided, &a.Decided}} {
		if *f.t, err = parseTime(f.s); err != nil {
			return Approval{}, fmt.Errorf("audit: approval %s: %w", a.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(agnt), &a.Agent); err != nil {
		return Approval{}, fmt.Errorf("audit: approval %s: bad agent: %w", a.ID, err)
	}
	a.Facts, a.Ref = rawJSON(facts), rawJSON(ref)
	return a, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

var _ ApprovalStore = (*SQLiteStore)(nil)
