package postgres

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/postgres/sqlfacts"
	"github.com/wardproject/ward/starlark/policy"
)

// Query is the facts of one Postgres action: a simple-protocol Query
// message or an extended-protocol Parse (or a Bind re-checked after a
// reload). Hooks (on_query) read:
//
//	sql                  the message's SQL text
//	statements           tuple of statements, each with verb, verbs, text,
//	                     tables, qualified_tables, functions,
//	                     qualified_functions, operators, writes,
//	                     copy_target (None, "program", "file", "stdin",
//	                     "stdout"), explain_analyze, settings, locking,
//	                     creates, prepares (None or a name), executes
//	verbs                every statement kind that would run, lowercase
//	tables               relations named, lowercase, without schema
//	qualified_tables     the same as written (schema.table)
//	functions            every function the server would call, lowercase,
//	                     without schema
//	qualified_functions  the same as written
//	operators            operators used (each is a function in the catalog)
//	settings             run-time parameters changed ("*": not a constant)
//	writes               True when anything would change data, schema,
//	                     privileges, configuration or the session's role
//	in_transaction       True when the session is inside a transaction block
//	user                 the role the gateway logs in as upstream
//	database             the database of the session
type Query struct {
	Endpoint      string // for replay; hooks read the action's endpoint
	SQL           string
	User          string
	Database      string
	InTransaction bool
	Analysis      *sqlfacts.Analysis
	// Prepared holds the SQL of the prepared statements the message runs,
	// by name, for replay.
	Prepared map[string]string

	attrs map[string]starlark.Value
}

var queryAttrs = []string{"database", "functions", "in_transaction", "operators", "qualified_functions",
	"qualified_tables", "settings", "sql", "statements", "tables", "user", "verbs", "writes"}

// Attr returns one fact.
func (q *Query) Attr(name string) (starlark.Value, error) {
	if v, ok := q.attrs[name]; ok {
		return v, nil
	}
	a := q.Analysis
	var v starlark.Value
	switch name {
	case "sql":
		v = starlark.String(q.SQL)
	case "user":
		v = starlark.String(q.User)
	case "database":
		v = starlark.String(q.Database)
	case "in_transaction":
		v = starlark.Bool(q.InTransaction)
	case "writes":
		v = starlark.Bool(a.Writes)
	case "verbs":
		v = policy.StringTuple(a.Verbs)
	case "tables":
		v = policy.StringTuple(a.Tables)
	case "qualified_tables":
		v = policy.StringTuple(a.QualifiedTables)
	case "functions":
		v = policy.StringTuple(a.Functions)
	case "qualified_functions":
		v = policy.StringTuple(a.QualifiedFunctions)
	case "operators":
		v = policy.StringTuple(a.Operators)
	case "settings":
		v = policy.StringTuple(a.Settings)
	case "statements":
		t := make(starlark.Tuple, len(a.Statements))
		for i := range a.Statements {
			t[i] = &StatementValue{s: &a.Statements[i]}
		}
		v = t
	default:
		return nil, nil
	}
	if q.attrs == nil {
		q.attrs = make(map[string]starlark.Value, 4)
	}
	q.attrs[name] = v
	return v, nil
}

// AttrNames lists the facts.
func (q *Query) AttrNames() []string { return queryAttrs }

// Summary is the SQL on one line, shortened.
func (q *Query) Summary() string { return oneLine(q.SQL, 200) }

// String renders the summary.
func (q *Query) String() string { return q.Summary() }

// Type is "postgres_query".
func (q *Query) Type() string { return "postgres_query" }

// Freeze is a no-op: facts are read-only.
func (q *Query) Freeze() {}

// Truth is always true.
func (q *Query) Truth() starlark.Bool { return true }

// Hash refuses: facts are not dict keys.
func (q *Query) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: postgres_query") }

type queryJSON struct {
	SQL           string `json:"sql"`
	User          string `json:"user"`
	Database      string `json:"database"`
	InTransaction bool   `json:"in_transaction"`
	// Prepared is the SQL of the prepared statements an EXECUTE runs:
	// judges must see what runs, not only its name.
	Prepared map[string]string `json:"prepared,omitempty"`
	*sqlfacts.Analysis
}

// MarshalJSON encodes the facts for the audit log.
func (q *Query) MarshalJSON() ([]byte, error) {
	return json.Marshal(queryJSON{SQL: q.SQL, User: q.User, Database: q.Database, InTransaction: q.InTransaction,
		Prepared: q.Prepared, Analysis: q.Analysis})
}

// Raw is a Postgres action as recorded for replay: the arguments of sql().
type Raw struct {
	Endpoint      string            `json:"endpoint"`
	SQL           string            `json:"sql"`
	Database      string            `json:"database,omitempty"`
	InTransaction bool              `json:"in_transaction,omitempty"`
	Prepared      map[string]string `json:"prepared,omitempty"`
}

// Raw returns the action as recorded for fixtures.
func (q *Query) Raw() *Raw {
	return &Raw{Endpoint: q.Endpoint, SQL: q.SQL, Database: q.Database, InTransaction: q.InTransaction, Prepared: q.Prepared}
}

// StatementValue is one statement as hooks see it.
type StatementValue struct{ s *sqlfacts.Statement }

var statementAttrs = []string{"copy_target", "creates", "executes", "explain_analyze", "functions", "locking",
	"operators", "prepares", "qualified_functions", "qualified_tables", "settings", "tables", "text", "verb",
	"verbs", "writes"}

// Attr returns one fact of the statement.
func (v *StatementValue) Attr(name string) (starlark.Value, error) {
	s := v.s
	switch name {
	case "verb":
		return starlark.String(s.Verb), nil
	case "verbs":
		return policy.StringTuple(s.Verbs), nil
	case "text":
		return starlark.String(s.Text), nil
	case "tables":
		return policy.StringTuple(s.Tables), nil
	case "qualified_tables":
		return policy.StringTuple(s.QualifiedTables), nil
	case "functions":
		return policy.StringTuple(s.Functions), nil
	case "qualified_functions":
		return policy.StringTuple(s.QualifiedFunctions), nil
	case "operators":
		return policy.StringTuple(s.Operators), nil
	case "writes":
		return starlark.Bool(s.Writes), nil
	case "copy_target":
		return noneOr(s.CopyTarget), nil
	case "explain_analyze":
		return starlark.Bool(s.ExplainAnalyze), nil
	case "settings":
		return policy.StringTuple(s.Settings), nil
	case "locking":
		return policy.StringTuple(s.Locking), nil
	case "creates":
		return policy.StringTuple(s.Creates), nil
	case "prepares":
		return noneOr(s.Prepares), nil
	case "executes":
		return policy.StringTuple(s.Executes), nil
	}
	return nil, nil
}

// AttrNames lists the statement's facts.
func (v *StatementValue) AttrNames() []string { return statementAttrs }

// String renders the statement's text.
func (v *StatementValue) String() string { return oneLine(v.s.Text, 200) }

// Type is "postgres_statement".
func (v *StatementValue) Type() string { return "postgres_statement" }

// Freeze is a no-op: facts are read-only.
func (v *StatementValue) Freeze() {}

// Truth is always true.
func (v *StatementValue) Truth() starlark.Bool { return true }

// Hash refuses: statements are not dict keys.
func (v *StatementValue) Hash() (uint32, error) {
	return 0, fmt.Errorf("unhashable type: postgres_statement")
}

func noneOr(s string) starlark.Value {
	if s == "" {
		return starlark.None
	}
	return starlark.String(s)
}

// oneLine collapses whitespace and shortens s to at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

var (
	_ starlark.HasAttrs = (*Query)(nil)
	_ starlark.HasAttrs = (*StatementValue)(nil)
)
