package sqlfacts

import (
	"encoding/json"
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// plExpr is one SQL expression or statement inside a PL/pgSQL body.
type plExpr struct {
	query string
	mode  int // libpg_query's RawParseMode
	// dynamic is true for the string expression of EXECUTE, OPEN … FOR
	// EXECUTE, FOR … IN EXECUTE and RETURN QUERY EXECUTE.
	dynamic bool
}

// Raw parse modes of PL/pgSQL expressions (RawParseMode in libpg_query).
const (
	modeDefault  = 0
	modeTypeName = 1
	modeExpr     = 2
	modeAssign1  = 3
	modeAssign3  = 5
)

// doBlock analyses a DO block's body as the statements it runs.
func (w *walker) doBlock(n *pg.DoStmt) {
	body, lang := "", "plpgsql"
	for _, a := range n.Args {
		de := a.GetDefElem()
		if de == nil || de.Arg.GetString_() == nil {
			continue
		}
		switch de.Defname {
		case "as":
			body = de.Arg.GetString_().Sval
		case "language":
			lang = de.Arg.GetString_().Sval
		}
	}
	if lang != "plpgsql" {
		w.fail("DO block in language %q: ward can only analyse plpgsql", lang)
		return
	}
	if !w.checkRunTimeText(body, "DO block") {
		return
	}
	w.plpgsql("DO "+dollarQuote(body), "DO block", true)
}

// functionBody records what a function's body would call when the
// function runs (its effects come later, so they are not counted now).
func (w *walker) functionBody(n *pg.CreateFunctionStmt) {
	lang, body, hasBody := "sql", "", false
	for _, o := range n.Options {
		de := o.GetDefElem()
		if de == nil {
			continue
		}
		switch de.Defname {
		case "language":
			if s := de.Arg.GetString_(); s != nil {
				lang = s.Sval // the server looks the name up as given
			}
		case "as":
			hasBody = true
			if l := de.Arg.GetList(); l != nil && len(l.Items) == 1 && l.Items[0].GetString_() != nil {
				body = l.Items[0].GetString_().Sval
			}
		}
	}
	if !hasBody {
		return // SQL-standard body, visited as part of the tree
	}
	w.noEffect++
	defer func() { w.noEffect-- }()
	switch lang {
	case "sql":
		w.embed(body, "function body")
	case "plpgsql":
		w.plpgsql(w.src, "function body", false) // src is this statement's text
	default:
		// internal and c name a symbol (LANGUAGE internal AS
		// 'pg_read_file_all' is pg_read_file under another name); other
		// languages run code ward cannot read.
		w.fail("function body in language %q: ward can only analyse sql and plpgsql, so it could not report what the function calls", lang)
	}
}

// plpgsql parses the PL/pgSQL in src (one DO or CREATE FUNCTION statement)
// and absorbs the facts of every SQL expression in it.
func (w *walker) plpgsql(src, where string, effects bool) {
	// libpg_query keeps its parser state per thread and, as vendored by
	// pg_query_go (built with DEBUG), leaves stderr alone, so calls may
	// run concurrently (TestConcurrentAnalysisKeepsStderr).
	out, err := pg.ParsePlPgSqlToJSON(src)
	if err != nil {
		w.fail("%s: %v", where, err)
		return
	}
	var tree any
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		w.fail("%s: read PL/pgSQL tree: %v", where, err)
		return
	}
	var exprs []plExpr
	collectPL(tree, &exprs)
	for _, e := range exprs {
		if w.err != nil {
			return
		}
		w.plExpression(e, where)
	}
}

// collectPL finds every expression in a PL/pgSQL tree.
func collectPL(v any, out *[]plExpr) {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			collectPL(x, out)
		}
	case map[string]any:
		for k, x := range v {
			switch k {
			case "PLpgSQL_expr":
				if e, ok := x.(map[string]any); ok {
					q, _ := e["query"].(string)
					mode, _ := e["parseMode"].(float64)
					*out = append(*out, plExpr{query: q, mode: int(mode)})
				}
				continue
			case "PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors":
				markDynamic(x, "query", out)
			case "PLpgSQL_stmt_open", "PLpgSQL_stmt_return_query":
				markDynamic(x, "dynquery", out)
			}
			collectPL(x, out)
		}
	}
}

// markDynamic records the expression in field of a statement as dynamic SQL.
func markDynamic(stmt any, field string, out *[]plExpr) {
	m, _ := stmt.(map[string]any)
	e, _ := m[field].(map[string]any)
	x, _ := e["PLpgSQL_expr"].(map[string]any)
	if x == nil {
		return
	}
	q, _ := x["query"].(string)
	*out = append(*out, plExpr{query: q, mode: modeExpr, dynamic: true})
}

// plExpression absorbs one PL/pgSQL expression.
func (w *walker) plExpression(e plExpr, where string) {
	switch {
	case e.dynamic:
		w.dynamicSQL(e.query, where)
	case e.mode == modeTypeName:
	case e.mode == modeDefault:
		w.embed(e.query, where)
	case e.mode == modeExpr:
		w.embed("SELECT "+e.query, where)
	case e.mode >= modeAssign1 && e.mode <= modeAssign3:
		target, value, ok := splitAssignment(e.query)
		if !ok {
			w.fail("%s: cannot read assignment %q", where, e.query)
			return
		}
		w.embed("SELECT "+target, where)
		w.embed("SELECT "+value, where)
	default:
		w.fail("%s: unknown PL/pgSQL expression kind %d", where, e.mode)
	}
}

// dynamicSQL analyses the string a PL/pgSQL EXECUTE runs, which must be a
// constant: SQL built at run time cannot be seen in advance.
func (w *walker) dynamicSQL(expr, where string) {
	if tooDeep(expr) {
		w.fail("%s EXECUTE: expressions nest more than %d levels deep", where, maxNesting)
		return
	}
	tree, err := pg.Parse("SELECT " + expr)
	if err == nil && len(tree.Stmts) == 1 {
		if sel := tree.Stmts[0].Stmt.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 && len(sel.FromClause) == 0 {
			if rt := sel.TargetList[0].GetResTarget(); rt != nil {
				if sql, ok := constString(rt.Val); ok {
					w.embed(sql, where+" EXECUTE")
					return
				}
			}
		}
	}
	w.fail("%s runs dynamic SQL (EXECUTE of a string computed at run time); ward cannot see what it would run", where)
}

// splitAssignment splits "target := value" (or "target = value") at the
// first assignment operator outside brackets.
func splitAssignment(q string) (target, value string, ok bool) {
	res, err := pg.Scan(q)
	if err != nil {
		return "", "", false
	}
	depth := 0
	for _, t := range res.Tokens {
		switch t.Token {
		case pg.Token_ASCII_91, pg.Token_ASCII_40: // [ (
			depth++
		case pg.Token_ASCII_93, pg.Token_ASCII_41: // ] )
			depth--
		case pg.Token_COLON_EQUALS, pg.Token_ASCII_61:
			if depth == 0 {
				return q[:t.Start], q[t.End:], true
			}
		}
	}
	return "", "", false
}

// dollarQuote quotes body with a dollar tag that does not occur in it.
func dollarQuote(body string) string {
	for i := 0; ; i++ {
		tag := fmt.Sprintf("$ward%d$", i)
		if !strings.Contains(body, tag) {
			return tag + body + tag
		}
	}
}
