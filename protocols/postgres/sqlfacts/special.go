package sqlfacts

import (
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// setConfig records set_config(name, value, is_local).
func (w *walker) setConfig(nameArg, valueArg *pg.Node) {
	name, ok := constString(nameArg)
	if !ok {
		w.addSetting("*")
		if w.effects() {
			w.st.dynamicSettings = true
		}
		return
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if w.effects() {
		value, known := constString(valueArg)
		w.checkSetting(name, value, known)
	}
	w.addSetting(name)
}

// setStmt records SET, SET LOCAL, RESET and their ALTER ROLE/DATABASE/
// SYSTEM forms. check is false for the persistent forms, which only apply
// to sessions the gateway opens with its own settings.
func (w *walker) setStmt(n *pg.VariableSetStmt, check bool) {
	if n == nil {
		return
	}
	w.markSensitive(n.Args)
	switch n.Kind {
	case pg.VariableSetKind_VAR_RESET_ALL:
		w.addSetting("*")
		return
	case pg.VariableSetKind_VAR_SET_MULTI:
		w.setMulti(n)
		return
	}
	name := strings.ToLower(n.Name)
	if check && n.Kind == pg.VariableSetKind_VAR_SET_VALUE && w.effects() {
		value, known := "", false
		if len(n.Args) == 1 {
			value, known = constString(n.Args[0])
		}
		w.checkSetting(name, value, known)
	}
	w.addSetting(name)
}

// setMulti records SET TRANSACTION …, SET SESSION CHARACTERISTICS AS
// TRANSACTION … and SET TRANSACTION SNAPSHOT.
func (w *walker) setMulti(n *pg.VariableSetStmt) {
	prefix := ""
	switch strings.ToUpper(n.Name) {
	case "TRANSACTION SNAPSHOT":
		w.addSetting("transaction_snapshot")
		return
	case "SESSION CHARACTERISTICS":
		prefix = "default_"
	}
	for _, a := range n.Args {
		if de := a.GetDefElem(); de != nil {
			w.addSetting(prefix + strings.ToLower(de.Defname))
		}
	}
}

// checkSetting refuses changes that would make the server read later
// statements differently from ward: another client encoding, or
// backslashes escaping quotes in ordinary strings.
func (w *walker) checkSetting(name, value string, known bool) {
	switch name {
	case "client_encoding":
		if !known || !isUTF8Name(value) {
			w.fail("client_encoding must stay UTF8 through ward (it reads every statement as UTF-8)")
		}
	case "standard_conforming_strings":
		if !known || !isOn(value) {
			w.fail("standard_conforming_strings must stay on through ward (it reads every statement that way)")
		}
	}
}

func isUTF8Name(v string) bool {
	var b strings.Builder
	for _, c := range strings.ToLower(v) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String() == "utf8" || b.String() == "unicode"
}

func isOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1", "t", "tr", "tru", "y", "ye":
		return true
	}
	return false
}

// constString returns the value of a constant argument: a string or
// number literal, possibly cast.
func constString(n *pg.Node) (string, bool) {
	if n == nil {
		return "", false
	}
	if tc := n.GetTypeCast(); tc != nil {
		return constString(tc.Arg)
	}
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return "", false
	}
	switch v := c.Val.(type) {
	case *pg.A_Const_Sval:
		return v.Sval.Sval, true
	case *pg.A_Const_Ival:
		return strconv.Itoa(int(v.Ival.Ival)), true
	case *pg.A_Const_Fval:
		return v.Fval.Fval, true
	case *pg.A_Const_Boolval:
		return strconv.FormatBool(v.Boolval.Boolval), true
	}
	return "", false
}

// markSensitive keeps the constants under nodes exact in the cache key:
// facts depend on their values.
func (w *walker) markSensitive(nodes []*pg.Node) {
	if !w.exact {
		return
	}
	for _, n := range nodes {
		markConsts(n.ProtoReflect(), w.run.sensitive)
	}
}

func markConsts(m protoreflect.Message, into map[int32]bool) {
	if c, ok := m.Interface().(*pg.A_Const); ok {
		into[c.Location] = true
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			for i := range v.List().Len() {
				markConsts(v.List().Get(i).Message(), into)
			}
		} else {
			markConsts(v.Message(), into)
		}
		return true
	})
}

// explain records EXPLAIN: its target's tables and functions always, its
// target's effects only when ANALYZE really runs it.
func (w *walker) explain(n *pg.ExplainStmt) {
	analyze := false
	for _, o := range n.Options {
		if de := o.GetDefElem(); de != nil && strings.ToLower(de.Defname) == "analyze" && !definitelyFalse(de.Arg) {
			analyze = true
		}
	}
	if analyze && w.effects() {
		w.st.ExplainAnalyze = true
	}
	if !analyze {
		w.noEffect++
		defer func() { w.noEffect-- }()
	}
	if n.Query != nil {
		w.visit(n.Query.ProtoReflect(), false)
	}
}

// definitelyFalse mirrors defGetBoolean: no value means true; anything
// but a clear false counts as true.
func definitelyFalse(arg *pg.Node) bool {
	if arg == nil {
		return false
	}
	if i := arg.GetInteger(); i != nil {
		return i.Ival == 0
	}
	v, ok := "", false
	if s := arg.GetString_(); s != nil {
		v, ok = s.Sval, true
	} else if b := arg.GetBoolean(); b != nil {
		return !b.Boolval
	} else {
		v, ok = constString(arg)
	}
	if !ok {
		return false
	}
	switch strings.ToLower(v) {
	case "false", "off", "0":
		return true
	}
	return false
}

// copyStmt records where COPY reads or writes.
func (w *walker) copyStmt(n *pg.CopyStmt) {
	target := "stdout"
	switch {
	case n.IsProgram:
		target = "program"
	case n.Filename != "":
		target = "file"
	case n.IsFrom:
		target = "stdin"
	}
	if !w.effects() {
		return
	}
	if copyRank[target] > copyRank[w.st.CopyTarget] {
		w.st.CopyTarget = target
	}
	if n.IsFrom || target == "program" || target == "file" {
		w.st.Writes = true
	}
}

var copyRank = map[string]int{"": 0, "stdout": 1, "stdin": 2, "file": 3, "program": 4}

// prepare records PREPARE: the prepared statement's facts count now (a
// policy that refuses a write refuses to prepare it) and are kept for
// EXECUTE.
func (w *walker) prepare(n *pg.PrepareStmt) {
	inner := &walker{run: w.run, st: &Statement{}, src: w.src, exact: w.exact}
	inner.statement(n.Query)
	if inner.err != nil {
		w.fail("%v", inner.err)
		return
	}
	w.st.absorb(inner.st, w.effects())
	if w.effects() {
		w.st.Prepares = n.Name
		w.st.Prepared = inner.st
	}
}
