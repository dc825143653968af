package sqlfacts

import (
	"fmt"
)

// Lookup finds the facts of the statement a session prepared under name
// (with SQL PREPARE or a protocol-level Parse; they share one namespace).
type Lookup func(name string) (*Statement, bool)

// NeedsResolve reports whether a runs or explains prepared statements.
func (a *Analysis) NeedsResolve() bool {
	for i := range a.Statements {
		if len(a.Statements[i].Executes) > 0 || len(a.Statements[i].explainOnly) > 0 {
			return true
		}
	}
	return false
}

// Resolve returns a as it reads in a session: the facts of each prepared
// statement that its EXECUTEs run are merged into the statement that runs
// it (only what it names, for EXPLAIN without ANALYZE). An EXECUTE of a
// name the session does not know is an error: ward cannot tell what it
// runs.
func (a *Analysis) Resolve(lookup Lookup) (*Analysis, error) {
	if !a.NeedsResolve() {
		return a, nil
	}
	out := *a
	out.Statements = make([]Statement, len(a.Statements))
	for i, s := range a.Statements {
		for _, name := range a.Statements[i].Executes {
			p, ok := lookup(name)
			if !ok {
				return nil, fmt.Errorf("%w: EXECUTE %s: no statement of that name was prepared through ward in this session", ErrUnanalysable, name)
			}
			s.absorb(p, true)
		}
		for _, name := range a.Statements[i].explainOnly {
			p, ok := lookup(name)
			if !ok {
				return nil, fmt.Errorf("%w: EXPLAIN EXECUTE %s: no statement of that name was prepared through ward in this session", ErrUnanalysable, name)
			}
			s.absorb(p, false)
		}
		s.finish()
		out.Statements[i] = s
	}
	out.union()
	return &out, nil
}

// Prepare returns the facts a session keeps for a statement prepared from
// a (a protocol-level Parse): the union of its statements.
func (a *Analysis) Prepare() *Statement {
	if len(a.Statements) == 1 {
		s := a.Statements[0]
		return &s
	}
	s := &Statement{Verb: "multiple"}
	for i := range a.Statements {
		s.absorb(&a.Statements[i], true)
	}
	s.finish()
	return s
}

// FromStatements builds an analysis of the given statements.
func FromStatements(stmts ...Statement) *Analysis {
	a := &Analysis{Statements: stmts}
	a.union()
	return a
}

// Merge returns a statement with the facts of both a and b, for a name
// that may hold either.
func Merge(a, b *Statement) *Statement {
	out := *a
	out.Text = b.Text
	out.absorb(b, true)
	out.finish()
	return &out
}

// DynamicSettings reports whether running s may change a run-time
// parameter whose name is only known when it runs.
func (s *Statement) DynamicSettings() bool { return s.dynamicSettings }
