package clickhouse

import (
	"fmt"
	"slices"
	"strings"

	chparser "github.com/AfterShip/clickhouse-sql-parser/parser"
)

// Statement is one statement of a query, as hooks see it.
type Statement struct {
	Verb      string   `json:"verb"`
	Tables    []string `json:"tables,omitempty"`
	Functions []string `json:"functions,omitempty"`
	Text      string   `json:"text"`
}

// writeVerbs change data, schema, privileges or the server.
var writeVerbs = map[string]bool{
	"insert": true, "create": true, "attach": true, "alter": true, "drop": true, "detach": true,
	"truncate": true, "rename": true, "delete": true, "system": true, "optimize": true, "grant": true,
}

// analysis is what the parser tells about a query's SQL.
type analysis struct {
	statements []Statement
	settings   map[string]string // SETTINGS clauses and SET statements
	format     string            // the last FORMAT clause
	// identifierParam is the name of a query parameter of type
	// Identifier, if any.
	identifierParam string
}

// analyze parses sql with the ClickHouse grammar and collects the facts of
// every statement. A parse failure is an error, and so is a query
// parameter of type Identifier: ClickHouse substitutes it as a name (of a
// table, say) that the parse cannot see.
func analyze(sql string) (*analysis, error) {
	stmts, err := chparser.NewParser(sql).ParseStmts()
	if err != nil {
		return nil, fmt.Errorf("cannot parse the query: %s", firstLine(err.Error()))
	}
	a := &analysis{settings: map[string]string{}}
	for i, st := range stmts {
		end := len(sql)
		if i+1 < len(stmts) {
			end = int(stmts[i+1].Pos())
		}
		a.statements = append(a.statements, a.statement(sql, st, end))
	}
	if a.identifierParam != "" {
		return nil, fmt.Errorf("query parameter {%s:Identifier} names what the policy cannot see; write the name in the query", a.identifierParam)
	}
	return a, nil
}

// statement collects the facts of st, whose text runs to end.
func (a *analysis) statement(sql string, st chparser.Expr, end int) Statement {
	text := ""
	if start := int(st.Pos()); start >= 0 && start <= end && end <= len(sql) {
		text = strings.TrimRight(strings.TrimSpace(sql[start:end]), "; \t\r\n")
	}
	s := Statement{Verb: verbOf(sql, st), Text: text}
	chparser.Walk(st, func(n chparser.Expr) bool {
		switch n := n.(type) {
		case *chparser.TableIdentifier:
			s.Tables = appendUnique(s.Tables, tableName(n))
		case *chparser.FunctionExpr:
			if n.Name != nil {
				s.Functions = appendUnique(s.Functions, strings.ToLower(n.Name.Name))
			}
		case *chparser.TableFunctionExpr:
			if id, ok := n.Name.(*chparser.Ident); ok {
				s.Functions = appendUnique(s.Functions, strings.ToLower(id.Name))
			} else if n.Name != nil {
				s.Functions = appendUnique(s.Functions, strings.ToLower(span(sql, n.Name)))
			}
		case *chparser.SettingExpr:
			if n.Name != nil {
				a.settings[n.Name.Name] = settingValue(sql, n.Expr)
			}
		case *chparser.SettingPair:
			if n.Name != nil {
				a.settings[n.Name.Name] = settingValue(sql, n.Value)
			}
		case *chparser.FormatClause:
			if n.Format != nil {
				a.format = n.Format.Name
			}
		case *chparser.BinaryOperation:
			if t := inTable(n); t != "" {
				s.Tables = appendUnique(s.Tables, t)
			}
		case *chparser.QueryParam:
			if n.Name != nil && n.Type != nil && strings.EqualFold(strings.TrimSpace(span(sql, n.Type)), "Identifier") {
				a.identifierParam = n.Name.Name
			}
		}
		return true
	})
	slices.Sort(s.Tables)
	slices.Sort(s.Functions)
	return s
}

// verbOf is the statement's kind: its first keyword, as the parser
// dispatches on it ("with" and "(" open a select).
func verbOf(sql string, st chparser.Expr) string {
	l := &lexer{s: sql, pos: int(st.Pos())}
	t, ok := l.next()
	if !ok {
		return "unknown"
	}
	w := strings.ToLower(sql[t.start:t.end])
	switch w {
	case "with", "(":
		return "select"
	case "desc":
		return "describe"
	}
	return w
}

// inTable is the table named on the right of an IN operator ("x IN t",
// "x NOT IN (db.t)"), which ClickHouse reads as the set to test against;
// "" when the right side is anything else.
func inTable(op *chparser.BinaryOperation) string {
	if !strings.HasSuffix(string(op.Operation), "IN") {
		return ""
	}
	right := op.RightExpr
	for {
		list, ok := right.(*chparser.ParamExprList)
		if !ok || list.Items == nil || len(list.Items.Items) != 1 {
			break
		}
		right = list.Items.Items[0]
		if col, ok := right.(*chparser.ColumnExpr); ok && col.Alias == nil {
			right = col.Expr
		}
	}
	switch r := right.(type) {
	case *chparser.Ident:
		return r.Name
	case *chparser.Path:
		names := make([]string, len(r.Fields))
		for i, f := range r.Fields {
			names[i] = f.Name
		}
		return strings.Join(names, ".")
	case *chparser.NestedIdentifier:
		if r.Ident != nil && r.DotIdent != nil {
			return r.Ident.Name + "." + r.DotIdent.Name
		}
	}
	return ""
}

func tableName(t *chparser.TableIdentifier) string {
	name := ""
	if t.Table != nil {
		name = t.Table.Name
	}
	if t.Database != nil {
		return t.Database.Name + "." + name
	}
	return name
}

func settingValue(sql string, e chparser.Expr) string {
	switch v := e.(type) {
	case nil:
		return ""
	case *chparser.StringLiteral:
		return v.Literal
	case *chparser.NumberLiteral:
		return v.Literal
	}
	return span(sql, e)
}

// span is the source text of a node.
func span(sql string, e chparser.Expr) string {
	start, end := int(e.Pos()), int(e.End())
	if start < 0 || end > len(sql) || start > end {
		return ""
	}
	return sql[start:end]
}

func appendUnique(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
