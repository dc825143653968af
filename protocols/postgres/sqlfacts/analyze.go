package sqlfacts

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// maxDepth bounds SQL nested in SQL (a DO block that EXECUTEs a string
// holding another DO block, …).
const maxDepth = 8

// ErrUnanalysable is wrapped by every analysis error: the text is not SQL
// the server's grammar accepts, or it does something ward cannot see in
// advance. The caller denies the statement.
var ErrUnanalysable = errors.New("cannot analyse")

// run is the state of one analysis.
type run struct {
	depth int
	// deferred is > 0 while analysing SQL that does not run with the
	// statement (a function body, EXPLAIN's target).
	deferred int
	// consts holds the locations of constants in the message text;
	// sensitive those whose value a fact depends on.
	consts, sensitive map[int32]bool
}

// bounds is where a top-level statement lies in the message text.
type bounds struct{ start, end int }

// analyse parses sql and computes its facts without the cache.
func analyse(sql string) (*Analysis, []bounds, *run, error) {
	if !utf8.ValidString(sql) {
		return nil, nil, nil, fmt.Errorf("%w: the text is not valid UTF-8", ErrUnanalysable)
	}
	r := &run{consts: map[int32]bool{}, sensitive: map[int32]bool{}}
	stmts, where, err := r.parse(sql, true)
	if err != nil {
		return nil, nil, nil, err
	}
	a := &Analysis{Statements: stmts}
	a.union()
	return a, where, r, nil
}

// statements parses sql and returns the facts of each statement.
func (r *run) statements(sql string, exact bool) ([]Statement, error) {
	stmts, _, err := r.parse(sql, exact)
	return stmts, err
}

func (r *run) parse(sql string, exact bool) ([]Statement, []bounds, error) {
	if r.depth++; r.depth > maxDepth {
		return nil, nil, fmt.Errorf("%w: SQL nested more than %d levels deep", ErrUnanalysable, maxDepth)
	}
	defer func() { r.depth-- }()
	if tooDeep(sql) {
		return nil, nil, fmt.Errorf("%w: expressions nest more than %d levels deep", ErrUnanalysable, maxNesting)
	}
	tree, err := pg.Parse(sql)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUnanalysable, err)
	}
	stmts := make([]Statement, 0, len(tree.Stmts))
	where := make([]bounds, 0, len(tree.Stmts))
	for _, raw := range tree.Stmts {
		b := bounds{start: int(raw.StmtLocation), end: len(sql)}
		if raw.StmtLen > 0 {
			b.end = b.start + int(raw.StmtLen)
		}
		if b.start < 0 || b.end > len(sql) || b.start > b.end {
			return nil, nil, fmt.Errorf("%w: statement bounds out of range", ErrUnanalysable)
		}
		w := &walker{run: r, st: &Statement{}, src: sql[b.start:b.end], exact: exact}
		w.statement(raw.Stmt)
		if w.err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrUnanalysable, w.err)
		}
		w.st.Text = strings.TrimSpace(w.src)
		stmts = append(stmts, *w.st)
		where = append(where, b)
	}
	return stmts, where, nil
}
