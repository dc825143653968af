package sqlfacts

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// walker collects the facts of one statement from its parse tree. It
// visits every node of the tree generically (so no clause is missed) and
// refines what it records at the nodes that matter.
type walker struct {
	run *run       // the Analyze call: depth limit, constant locations
	st  *Statement // what is being collected
	// src is the text of the statement being walked; exact is true when
	// the tree was parsed from the message being analysed, so constant
	// locations are meaningful.
	src   string
	exact bool
	// noEffect is > 0 inside EXPLAIN without ANALYZE and in function
	// bodies: what is named there counts, what it would change does not.
	noEffect int
	// scopes are the CTE names visible at this point, innermost last.
	scopes []map[string]bool
	// define is true inside statements whose options name functions.
	define bool
	top    bool // the next statement node is the top-level statement
	err    error
}

func (w *walker) effects() bool { return w.noEffect == 0 }

func (w *walker) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf(format, args...)
	}
}

// statement collects the facts of one top-level statement.
func (w *walker) statement(n *pg.Node) {
	inner := nodeValue(n)
	if inner == nil {
		w.fail("empty statement node")
		return
	}
	w.st.Verb, w.st.Writes = stmtVerb(inner.Interface())
	w.top = true
	w.visit(n.ProtoReflect(), false)
	w.st.finish()
}

// nodeValue unwraps a pg.Node (a oneof of every node type).
func nodeValue(n *pg.Node) protoreflect.Message {
	if n == nil {
		return nil
	}
	m := n.ProtoReflect()
	var out protoreflect.Message
	m.Range(func(_ protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		out = v.Message()
		return false
	})
	return out
}

// fromFields are the fields whose RangeVars are FROM-clause references,
// which may name a CTE instead of a table.
var fromFields = map[protoreflect.Name]bool{
	"from_clause": true, "using_clause": true, "source_relation": true, "larg": true, "rarg": true, "relation": false,
}

// visit records what m says and descends into its children.
func (w *walker) visit(m protoreflect.Message, inFrom bool) {
	if w.err != nil || m == nil || !m.IsValid() {
		return
	}
	if n, ok := m.Interface().(*pg.Node); ok {
		w.visit(nodeValue(n), inFrom)
		return
	}
	if strings.HasSuffix(string(m.Descriptor().Name()), "Stmt") {
		if !w.top && w.effects() {
			verb, writes := stmtVerb(m.Interface())
			w.st.Verbs = append(w.st.Verbs, verb)
			w.st.Writes = w.st.Writes || writes
		}
		w.top = false
	}
	if w.node(m, inFrom) {
		return
	}
	if with := withClause(m); with != nil {
		w.withScope(m, with)
		return
	}
	w.children(m)
}

// children visits every message-valued field of m except skip.
func (w *walker) children(m protoreflect.Message, skip ...protoreflect.Name) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		for _, s := range skip {
			if fd.Name() == s {
				return true
			}
		}
		from := fromFields[fd.Name()]
		if fd.IsList() {
			l := v.List()
			for i := range l.Len() {
				w.visit(l.Get(i).Message(), from)
			}
		} else {
			w.visit(v.Message(), from)
		}
		return w.err == nil
	})
}

// withClause returns m's WITH clause, if it has one.
func withClause(m protoreflect.Message) *pg.WithClause {
	fd := m.Descriptor().Fields().ByName("with_clause")
	if fd == nil || !m.Has(fd) {
		return nil
	}
	wc, _ := m.Get(fd).Message().Interface().(*pg.WithClause)
	return wc
}

// withScope visits a statement with a WITH clause: each CTE sees the ones
// before it (all of them when RECURSIVE), the statement sees all.
func (w *walker) withScope(m protoreflect.Message, with *pg.WithClause) {
	scope := map[string]bool{}
	w.scopes = append(w.scopes, scope)
	defer func() { w.scopes = w.scopes[:len(w.scopes)-1] }()
	if with.Recursive {
		for _, c := range with.Ctes {
			if cte := c.GetCommonTableExpr(); cte != nil {
				scope[cte.Ctename] = true
			}
		}
	}
	for _, c := range with.Ctes {
		w.visit(c.ProtoReflect(), false)
		if cte := c.GetCommonTableExpr(); cte != nil {
			scope[cte.Ctename] = true
		}
	}
	w.children(m, "with_clause")
}

// isCTE reports whether a FROM-clause reference names a visible CTE.
func (w *walker) isCTE(rv *pg.RangeVar) bool {
	if rv.Schemaname != "" || rv.Catalogname != "" {
		return false
	}
	for _, s := range w.scopes {
		if s[rv.Relname] {
			return true
		}
	}
	return false
}

func (w *walker) addTable(parts ...string) {
	var q []string
	for _, p := range parts {
		if p != "" {
			q = append(q, p)
		}
	}
	if len(q) == 0 {
		return
	}
	w.st.Tables = append(w.st.Tables, strings.ToLower(q[len(q)-1]))
	w.st.QualifiedTables = append(w.st.QualifiedTables, strings.Join(q, "."))
}

func (w *walker) addFunction(parts []string) {
	if len(parts) == 0 {
		return
	}
	name := strings.ToLower(parts[len(parts)-1])
	w.st.Functions = append(w.st.Functions, name)
	w.st.QualifiedFunctions = append(w.st.QualifiedFunctions, strings.Join(parts, "."))
	if writingFunctions[name] && w.effects() {
		w.st.Writes = true
	}
}

func (w *walker) addSetting(name string) {
	if !w.effects() {
		return
	}
	w.st.Settings = append(w.st.Settings, name)
	switch name {
	case "role", "session_authorization", "*":
		w.st.Writes = true
	}
}

// strVals returns the String values of a name list (funcname, names, …).
func strVals(nodes []*pg.Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		switch {
		case n.GetString_() != nil:
			out = append(out, n.GetString_().Sval)
		case n.GetAStar() != nil:
			out = append(out, "*")
		}
	}
	return out
}
