package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

const actionColumns = `seq, id, time, protocol, endpoint, agent, summary, facts, raw,
	verdict, reason, decided_by, policy_us, judge_us, details,
	completed, status, bytes_in, bytes_out, duration_us, error`

// List returns the records matching f, in ascending Seq order.
func (s *SQLiteStore) List(ctx context.Context, f Filter) ([]Record, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.Verdict != "" {
		add("verdict = ?", f.Verdict)
	}
	if f.Endpoint != "" {
		add("endpoint = ?", f.Endpoint)
	}
	if f.Agent != "" {
		add("agent_name = ?", f.Agent)
	}
	if f.AfterSeq > 0 {
		add("seq > ?", f.AfterSeq)
	}
	if f.BeforeSeq > 0 {
		add("seq < ?", f.BeforeSeq)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	var q strings.Builder
	q.WriteString("SELECT " + actionColumns + " FROM actions")
	if len(where) > 0 {
		q.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	if f.Newest {
		q.WriteString(" ORDER BY seq DESC LIMIT ?")
	} else {
		q.WriteString(" ORDER BY seq ASC LIMIT ?")
	}
	args = append(args, limit)

	rows, err := s.db.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list actions: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list actions: %w", err)
	}
	if f.Newest {
		slices.Reverse(out)
	}
	return out, nil
}

// Get returns the record with the ID, or an error wrapping ErrNotFound.
func (s *SQLiteStore) Get(ctx context.Context, id string) (Record, error) {
	row := s.db.QueryRowContext(ctx, "SELECT "+actionColumns+" FROM actions WHERE id = ?", id)
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("audit: action %s: %w", id, ErrNotFound)
	}
	return r, err
}

// scanRecord reads one row of actionColumns.
func scanRecord(row interface{ Scan(...any) error }) (Record, error) {
	var (
		r                   Record
		when, agent         string
		facts, raw, details sql.NullString
	)
	err := row.Scan(&r.Seq, &r.ID, &when, &r.Protocol, &r.Endpoint, &agent, &r.Summary, &facts, &raw,
		&r.Verdict, &r.Reason, &r.DecidedBy, &r.PolicyMicros, &r.JudgeMicros, &details,
		&r.Completed, &r.Status, &r.BytesIn, &r.BytesOut, &r.DurationMicros, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, err
	}
	if err != nil {
		return Record{}, fmt.Errorf("audit: read action: %w", err)
	}
	if r.Time, err = time.Parse(time.RFC3339Nano, when); err != nil {
		return Record{}, fmt.Errorf("audit: action %s: bad time %q: %w", r.ID, when, err)
	}
	if err := json.Unmarshal([]byte(agent), &r.Agent); err != nil {
		return Record{}, fmt.Errorf("audit: action %s: bad agent: %w", r.ID, err)
	}
	r.Facts, r.Raw, r.Details = rawJSON(facts), rawJSON(raw), rawJSON(details)
	return r, nil
}

// rawJSON turns a nullable JSON column back into a RawMessage.
func rawJSON(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}
