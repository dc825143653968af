package sqlfacts

import (
	"slices"
)

// Statement is the facts of one top-level statement.
type Statement struct {
	// Verb is the lowercase statement kind: select, insert, update, delete,
	// merge, copy, create, alter, drop, truncate, grant, revoke, do, call,
	// set, reset, show, explain, prepare, execute, deallocate, declare,
	// fetch, move, close, begin, commit, rollback, savepoint, release, lock,
	// vacuum, analyze, comment, listen, unlisten, notify, discard, …
	Verb string `json:"verb"`
	// Verbs is Verb plus the kind of every statement it would run: the DML
	// of a data-modifying CTE, the statements of a DO body, the target of
	// EXPLAIN ANALYZE, PREPARE or EXECUTE, nested SELECTs.
	Verbs []string `json:"verbs,omitempty"`
	// Text is the statement's text as sent, without the separating ';'.
	Text string `json:"text"`
	// Tables are the relations it names, lowercase and without schema;
	// QualifiedTables keeps the names as written (schema.table).
	Tables          []string `json:"tables,omitempty"`
	QualifiedTables []string `json:"qualified_tables,omitempty"`
	// Functions are the functions the server would call, lowercase and
	// without schema; QualifiedFunctions keeps them as written.
	Functions          []string `json:"functions,omitempty"`
	QualifiedFunctions []string `json:"qualified_functions,omitempty"`
	// Operators are the operators used (each is implemented by a function
	// that the catalog names), as written, e.g. "+", "~~", "pg_catalog.=".
	Operators []string `json:"operators,omitempty"`
	// Writes is true when executing the statement would change data,
	// schema, privileges, server configuration or the session's role.
	Writes bool `json:"writes,omitempty"`
	// CopyTarget is "program", "file", "stdin" or "stdout" for COPY.
	CopyTarget string `json:"copy_target,omitempty"`
	// ExplainAnalyze is true when EXPLAIN really executes its statement.
	ExplainAnalyze bool `json:"explain_analyze,omitempty"`
	// Settings are the run-time parameters the statement changes; "*"
	// stands for a name that is not a constant (or every parameter).
	Settings []string `json:"settings,omitempty"`
	// Locking lists row-locking clauses: "for update", "for no key update",
	// "for share", "for key share".
	Locking []string `json:"locking,omitempty"`
	// Creates lists relations created by the statement (SELECT INTO,
	// CREATE TABLE [AS], CREATE [MATERIALIZED] VIEW, CREATE SEQUENCE).
	Creates []string `json:"creates,omitempty"`
	// Prepares is the name a PREPARE defines; Executes lists the prepared
	// statements it runs (EXECUTE, CREATE TABLE AS EXECUTE, EXPLAIN ANALYZE
	// EXECUTE). A session resolves them with Analysis.Resolve.
	Prepares string   `json:"prepares,omitempty"`
	Executes []string `json:"executes,omitempty"`
	// Prepared is the facts of the statement a PREPARE defines.
	Prepared *Statement `json:"-"`
	// Deallocates lists the prepared statements DEALLOCATE (or DISCARD
	// ALL) removes; "*" is all of them.
	Deallocates []string `json:"deallocates,omitempty"`

	// explainOnly lists prepared statements named by EXPLAIN without
	// ANALYZE: their tables and functions count, their effects do not.
	explainOnly []string
	// dynamicSettings is true when a parameter whose name is computed at
	// run time may change (set_config(expr, …), UPDATE pg_settings).
	dynamicSettings bool
}

// Analysis is the facts of one message: its statements and their unions.
type Analysis struct {
	Statements         []Statement `json:"statements"`
	Verbs              []string    `json:"verbs,omitempty"`
	Tables             []string    `json:"tables,omitempty"`
	QualifiedTables    []string    `json:"qualified_tables,omitempty"`
	Functions          []string    `json:"functions,omitempty"`
	QualifiedFunctions []string    `json:"qualified_functions,omitempty"`
	Operators          []string    `json:"operators,omitempty"`
	Settings           []string    `json:"settings,omitempty"`
	Writes             bool        `json:"writes,omitempty"`

	// settingDependent is true when the text reads differently under
	// other settings (see ReadsDifferently); it belongs to the text, not
	// to a cache entry.
	settingDependent bool
}

// DynamicSettings reports whether a statement may change a run-time
// parameter whose name is only known when it runs. The gateway lets such a
// statement complete before it reads the next one.
func (a *Analysis) DynamicSettings() bool {
	for i := range a.Statements {
		if a.Statements[i].dynamicSettings {
			return true
		}
	}
	return false
}

// union computes the message-level facts from the statements.
func (a *Analysis) union() {
	a.Verbs, a.Tables, a.QualifiedTables = nil, nil, nil
	a.Functions, a.QualifiedFunctions, a.Operators, a.Settings = nil, nil, nil, nil
	a.Writes = false
	for i := range a.Statements {
		s := &a.Statements[i]
		a.Verbs = append(a.Verbs, s.Verbs...)
		a.Tables = append(a.Tables, s.Tables...)
		a.QualifiedTables = append(a.QualifiedTables, s.QualifiedTables...)
		a.Functions = append(a.Functions, s.Functions...)
		a.QualifiedFunctions = append(a.QualifiedFunctions, s.QualifiedFunctions...)
		a.Operators = append(a.Operators, s.Operators...)
		a.Settings = append(a.Settings, s.Settings...)
		a.Writes = a.Writes || s.Writes
	}
	a.Verbs = set(a.Verbs)
	a.Tables = set(a.Tables)
	a.QualifiedTables = set(a.QualifiedTables)
	a.Functions = set(a.Functions)
	a.QualifiedFunctions = set(a.QualifiedFunctions)
	a.Operators = set(a.Operators)
	a.Settings = set(a.Settings)
}

// set sorts and deduplicates s; it never returns nil, so facts encode as
// [] rather than null.
func set(s []string) []string {
	if len(s) == 0 {
		return []string{}
	}
	slices.Sort(s)
	// Clipped, so that appending to a shared (cached) list copies it.
	return slices.Clip(slices.Compact(s))
}

// finish normalises a statement's lists.
func (s *Statement) finish() {
	s.Verbs = set(append(s.Verbs, s.Verb))
	s.Tables = set(s.Tables)
	s.QualifiedTables = set(s.QualifiedTables)
	s.Functions = set(s.Functions)
	s.QualifiedFunctions = set(s.QualifiedFunctions)
	s.Operators = set(s.Operators)
	s.Settings = set(s.Settings)
	s.Locking = set(s.Locking)
	s.Creates = set(s.Creates)
	if len(s.Executes) > 0 {
		s.Executes = set(s.Executes)
	}
}

// absorb adds the facts of a statement that s runs (a DO body statement,
// a prepared statement at EXECUTE). With effects false (EXPLAIN without
// ANALYZE), only what it names counts, not what it would change.
func (s *Statement) absorb(in *Statement, effects bool) {
	s.Tables = append(s.Tables, in.Tables...)
	s.QualifiedTables = append(s.QualifiedTables, in.QualifiedTables...)
	s.Functions = append(s.Functions, in.Functions...)
	s.QualifiedFunctions = append(s.QualifiedFunctions, in.QualifiedFunctions...)
	s.Operators = append(s.Operators, in.Operators...)
	if !effects {
		s.explainOnly = append(s.explainOnly, in.Executes...)
		s.explainOnly = append(s.explainOnly, in.explainOnly...)
		return
	}
	s.Executes = append(s.Executes, in.Executes...)
	s.explainOnly = append(s.explainOnly, in.explainOnly...)
	s.Verbs = append(s.Verbs, in.Verbs...)
	s.Writes = s.Writes || in.Writes
	s.Settings = append(s.Settings, in.Settings...)
	s.Locking = append(s.Locking, in.Locking...)
	s.Creates = append(s.Creates, in.Creates...)
	s.dynamicSettings = s.dynamicSettings || in.dynamicSettings
	if s.CopyTarget == "" {
		s.CopyTarget = in.CopyTarget
	}
}

// absorbNested adds the facts of a statement that runs inside s: SQL in a
// DO body or SQL given to a function as a string. A PREPARE or DEALLOCATE
// there makes the session forget that name (ward no longer knows what it
// holds).
func (s *Statement) absorbNested(in *Statement, effects bool) {
	s.absorb(in, effects)
	if !effects {
		return
	}
	s.Deallocates = append(s.Deallocates, in.Deallocates...)
	if in.Prepares != "" {
		s.Deallocates = append(s.Deallocates, in.Prepares)
	}
}
