package sqlfacts

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// specialFunction refines the facts of calls whose arguments matter:
// set_config changes a setting; some functions (built in, or from contrib
// extensions a database owner may install) run SQL or read tables named
// by a string argument.
func (w *walker) specialFunction(n *pg.FuncCall) {
	names := strVals(n.Funcname)
	if len(names) == 0 {
		return
	}
	name := strings.ToLower(names[len(names)-1])
	arg := func(i int) *pg.Node {
		if i < len(n.Args) {
			return n.Args[i]
		}
		return nil
	}
	switch name {
	case "set_config":
		w.markSensitive(n.Args)
		w.setConfig(arg(0), arg(1))
	case "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "ts_stat":
		w.embeddedSQL(name, arg(0))
	case "ts_rewrite":
		if len(n.Args) == 2 {
			w.embeddedSQL(name, arg(1))
		}
	case "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema":
		w.tableArgument(name, arg(0))
	case "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
		"schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema":
		w.fail("%s reads every table of a schema or database; ward cannot tell which", name)
	case "crosstab", "crosstab2", "crosstab3", "crosstab4": // tablefunc
		w.crosstab(name, n.Args)
	case "connectby", "xpath_table": // tablefunc, xml2
		w.fail("%s runs SQL it builds from its arguments; ward cannot tell what it would run", name)
	}
}

// embeddedSQL analyses SQL passed as a string to a function that runs it.
func (w *walker) embeddedSQL(fn string, arg *pg.Node) {
	if arg != nil {
		w.markSensitive([]*pg.Node{arg})
	}
	sql, ok := constString(arg)
	if !ok {
		w.fail("%s runs SQL computed at run time; ward cannot see what it would run", fn)
		return
	}
	w.embed(sql, fn)
}

// embed analyses sql that the statement runs and absorbs its facts.
func (w *walker) embed(sql, where string) {
	if !w.checkRunTimeText(sql, where) {
		return
	}
	if !w.effects() {
		w.run.deferred++
		defer func() { w.run.deferred-- }()
	}
	stmts, err := w.run.statements(sql, false)
	if err != nil {
		w.fail("%s: %v", where, err)
		return
	}
	for i := range stmts {
		w.st.absorbNested(&stmts[i], w.effects())
	}
}

// tableArgument records the table a function reads by name.
func (w *walker) tableArgument(fn string, arg *pg.Node) {
	if arg != nil {
		w.markSensitive([]*pg.Node{arg})
	}
	name, ok := constString(arg)
	if !ok {
		w.fail("%s reads a table named at run time; ward cannot tell which", fn)
		return
	}
	parts, ok := qualifiedName(name)
	if !ok {
		w.fail("%s: cannot read %q as a table name", fn, name)
		return
	}
	w.addTable(parts...)
}

// qualifiedName splits a possibly quoted, dotted name as regclass input
// does: unquoted parts are folded to lowercase.
func qualifiedName(s string) ([]string, bool) {
	var parts []string
	s = strings.TrimSpace(s)
	for {
		var part string
		if strings.HasPrefix(s, `"`) {
			end := 1
			var b strings.Builder
			for {
				i := strings.IndexByte(s[end:], '"')
				if i < 0 {
					return nil, false
				}
				b.WriteString(s[end : end+i])
				end += i + 1
				if end < len(s) && s[end] == '"' {
					b.WriteByte('"')
					end++
					continue
				}
				break
			}
			part, s = b.String(), s[end:]
		} else {
			end := 0
			for end < len(s) && (isIdentCont(s[end])) {
				end++
			}
			if end == 0 || !isIdentStart(s[0]) {
				return nil, false
			}
			part, s = strings.ToLower(s[:end]), s[end:]
		}
		if part == "" {
			return nil, false
		}
		parts = append(parts, part)
		s = strings.TrimSpace(s)
		if s == "" {
			return parts, len(parts) <= 3
		}
		if s[0] != '.' {
			return nil, false
		}
		s = strings.TrimSpace(s[1:])
	}
}

// crosstab analyses the queries given to tablefunc's crosstab: every
// argument is SQL, except the column count of crosstab(text, integer).
func (w *walker) crosstab(fn string, args []*pg.Node) {
	w.markSensitive(args) // an integer count and a query read differently
	for i, a := range args {
		if c := a.GetAConst(); i == 1 && c != nil && c.GetIval() != nil {
			continue
		}
		w.embeddedSQL(fn, a)
	}
}

// sqlAttributes are the functions of one argument that run it as SQL.
var sqlAttributes = map[string]bool{"ts_stat": true, "crosstab": true, "crosstab2": true, "crosstab3": true, "crosstab4": true}

// attributeSQL handles (x).f, which calls f(x), for functions f that run
// their argument as SQL.
func (w *walker) attributeSQL(n *pg.A_Indirection) {
	for i, f := range n.Indirection {
		s := f.GetString_()
		if s == nil || !sqlAttributes[strings.ToLower(s.Sval)] {
			continue
		}
		if i > 0 {
			w.fail("%s runs SQL computed at run time; ward cannot see what it would run", s.Sval)
			return
		}
		w.specialFunction(&pg.FuncCall{Funcname: []*pg.Node{f}, Args: []*pg.Node{n.Arg}})
	}
}
