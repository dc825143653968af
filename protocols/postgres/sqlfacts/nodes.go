package sqlfacts

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// node records what one node says. It returns true when it has visited
// the node's children itself.
func (w *walker) node(m protoreflect.Message, inFrom bool) bool {
	switch n := m.Interface().(type) {
	case *pg.A_Const:
		if w.exact {
			w.run.consts[n.Location] = true
		}
		return true
	case *pg.RangeVar:
		if !(inFrom && w.isCTE(n)) {
			w.addTable(n.Catalogname, n.Schemaname, n.Relname)
		}
	case *pg.FuncCall:
		w.addFunction(strVals(n.Funcname))
		w.specialFunction(n)
	case *pg.SQLValueFunction:
		w.addFunction([]string{sqlValueFunctionName(n.Op)})
	case *pg.A_Expr:
		w.operator(n)
	case *pg.SubLink:
		if len(n.OperName) > 0 {
			w.st.Operators = append(w.st.Operators, strings.Join(strVals(n.OperName), "."))
		}
	case *pg.ColumnRef:
		w.attributeCall(n.Fields, true)
	case *pg.A_Indirection:
		w.attributeCall(n.Indirection, false)
		w.attributeSQL(n)
	case *pg.IntoClause:
		if w.effects() && n.Rel != nil {
			w.st.Creates = append(w.st.Creates, strings.ToLower(n.Rel.Relname))
			w.st.Writes = true
		}
	case *pg.LockingClause:
		if w.effects() {
			w.st.Locking = append(w.st.Locking, lockStrength(n.Strength))
		}
	case *pg.InsertStmt:
		w.settingsTable(n.Relation)
	case *pg.UpdateStmt:
		w.settingsTable(n.Relation)
	case *pg.DeleteStmt:
		w.settingsTable(n.Relation)
	case *pg.MergeStmt:
		w.settingsTable(n.Relation)
	case *pg.ExplainStmt:
		w.explain(n)
		return true
	case *pg.VariableSetStmt:
		w.setStmt(n, true)
		return true
	case *pg.AlterSystemStmt:
		w.setStmt(n.Setstmt, false)
		return true
	case *pg.AlterRoleSetStmt:
		w.setStmt(n.Setstmt, false)
		return true
	case *pg.AlterDatabaseSetStmt:
		w.setStmt(n.Setstmt, false)
		return true
	case *pg.TransactionStmt:
		for _, o := range n.Options {
			if de := o.GetDefElem(); de != nil {
				w.addSetting(strings.ToLower(de.Defname))
			}
		}
		return true
	case *pg.DiscardStmt:
		w.discard(n)
	case *pg.DeallocateStmt:
		if w.effects() {
			w.st.Deallocates = append(w.st.Deallocates, deallocateName(n))
		}
	case *pg.CopyStmt:
		w.copyStmt(n)
	case *pg.DoStmt:
		w.doBlock(n)
		return true
	case *pg.CreateFunctionStmt:
		w.functionBody(n)
		w.supportFunction(n.Options)
	case *pg.ExecuteStmt:
		if w.effects() {
			w.st.Executes = append(w.st.Executes, n.Name)
		} else {
			w.st.explainOnly = append(w.st.explainOnly, n.Name)
		}
	case *pg.PrepareStmt:
		w.prepare(n)
		return true
	case *pg.CreateStmt:
		w.creates(n.Relation)
	case *pg.ViewStmt:
		w.creates(n.View)
	case *pg.CreateSeqStmt:
		w.creates(n.Sequence)
	case *pg.DropStmt:
		w.drop(n)
	default:
		w.functionReference(m)
	}
	return false
}

// functionReference records functions that DDL names for the server to
// call later: trigger functions, cast functions, operator and aggregate
// support functions, tablesample methods, XML and JSON constructors.
func (w *walker) functionReference(m protoreflect.Message) {
	switch n := m.Interface().(type) {
	case *pg.RangeTableSample:
		w.addFunction(strVals(n.Method))
	case *pg.CreateTrigStmt:
		w.addFunction(strVals(n.Funcname))
	case *pg.CreateEventTrigStmt:
		w.addFunction(strVals(n.Funcname))
	case *pg.CreateCastStmt:
		w.objectFunction(n.Func)
	case *pg.CreateTransformStmt:
		w.objectFunction(n.Fromsql)
		w.objectFunction(n.Tosql)
	case *pg.CreateConversionStmt:
		w.addFunction(strVals(n.FuncName))
	case *pg.CreatePLangStmt:
		w.addFunction(strVals(n.Plhandler))
		w.addFunction(strVals(n.Plinline))
		w.addFunction(strVals(n.Plvalidator))
	case *pg.CreateAmStmt:
		w.addFunction(strVals(n.HandlerName))
	case *pg.CreateOpClassItem:
		if n.Itemtype == 2 { // OPCLASS_ITEM_FUNCTION
			w.objectFunction(n.Name)
		}
	case *pg.AlterFunctionStmt:
		w.supportFunction(n.Actions)
	case *pg.DefineStmt, *pg.AlterTypeStmt, *pg.AlterOperatorStmt, *pg.CreateFdwStmt, *pg.AlterFdwStmt, *pg.CreateRangeStmt:
		w.define = true
		w.children(m)
		w.define = false
	case *pg.DefElem:
		if w.define && functionOptions[strings.ToLower(n.Defname)] {
			w.addFunction(defElemNames(n.Arg))
		}
	case *pg.RangeTableFunc:
		w.addFunction([]string{"xmltable"})
	case *pg.JsonTable:
		w.addFunction([]string{"json_table"})
	case *pg.XmlExpr:
		if name := xmlFunctionName(n.Op); name != "" {
			w.addFunction([]string{name})
		}
	case *pg.XmlSerialize:
		w.addFunction([]string{"xmlserialize"})
	case *pg.JsonObjectConstructor:
		w.addFunction([]string{"json_object"})
	case *pg.JsonArrayConstructor, *pg.JsonArrayQueryConstructor:
		w.addFunction([]string{"json_array"})
	case *pg.JsonObjectAgg:
		w.addFunction([]string{"json_objectagg"})
	case *pg.JsonArrayAgg:
		w.addFunction([]string{"json_arrayagg"})
	case *pg.JsonParseExpr:
		w.addFunction([]string{"json"})
	case *pg.JsonScalarExpr:
		w.addFunction([]string{"json_scalar"})
	case *pg.JsonSerializeExpr:
		w.addFunction([]string{"json_serialize"})
	case *pg.MergeSupportFunc:
		// The grammar ward parses with (Postgres 17) reads merge_action()
		// as MERGE's own; a Postgres 15 or 16 server calls a function of
		// that name.
		w.addFunction([]string{"merge_action"})
	case *pg.JsonFuncExpr:
		// JSON_EXISTS_OP → json_exists: the name a Postgres 15 or 16
		// server calls, where these are ordinary functions.
		w.addFunction([]string{strings.ToLower(strings.TrimSuffix(n.Op.String(), "_OP"))})
	}
}

// functionOptions are the options of CREATE OPERATOR/AGGREGATE/TYPE, text
// search parsers and templates and foreign-data wrappers that name
// functions the server will call.
var functionOptions = map[string]bool{
	"function": true, "procedure": true, "restrict": true, "join": true,
	"sfunc": true, "finalfunc": true, "combinefunc": true, "serialfunc": true, "deserialfunc": true,
	"msfunc": true, "minvfunc": true, "mfinalfunc": true,
	"input": true, "output": true, "receive": true, "send": true, "typmod_in": true, "typmod_out": true,
	"analyze": true, "subscript": true, "handler": true, "validator": true,
	"canonical": true, "subtype_diff": true, "multirange_type_name": false,
	"start": true, "gettoken": true, "end": true, "lextypes": true, "headline": true, "init": true, "lexize": true,
}

// supportFunction records the planner support function of CREATE or
// ALTER FUNCTION (called when calls to the function are planned).
func (w *walker) supportFunction(options []*pg.Node) {
	for _, o := range options {
		if de := o.GetDefElem(); de != nil && de.Defname == "support" {
			w.addFunction(defElemNames(de.Arg))
		}
	}
}

// defElemNames reads a function name given as an option value.
func defElemNames(arg *pg.Node) []string {
	switch {
	case arg == nil:
		return nil
	case arg.GetTypeName() != nil:
		return strVals(arg.GetTypeName().Names)
	case arg.GetList() != nil:
		return strVals(arg.GetList().Items)
	case arg.GetString_() != nil:
		return []string{arg.GetString_().Sval}
	case arg.GetObjectWithArgs() != nil:
		return strVals(arg.GetObjectWithArgs().Objname)
	}
	return nil
}

func (w *walker) objectFunction(o *pg.ObjectWithArgs) {
	if o != nil {
		w.addFunction(strVals(o.Objname))
	}
}

// operator records an operator of an expression; each is implemented by
// a function the catalog names.
func (w *walker) operator(n *pg.A_Expr) {
	switch n.Kind {
	case pg.A_Expr_Kind_AEXPR_OP, pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL,
		pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT, pg.A_Expr_Kind_AEXPR_NULLIF,
		pg.A_Expr_Kind_AEXPR_IN, pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE, pg.A_Expr_Kind_AEXPR_SIMILAR:
		if name := strVals(n.Name); len(name) > 0 {
			w.st.Operators = append(w.st.Operators, strings.Join(name, "."))
		}
	}
}

// attributeCall records a function called in attribute notation: the
// server reads (x).f as f(x) for a value x of any type when f is not one
// of its fields, and rel.f as f(rel) for a whole row when f is not one of
// its columns. Without the catalog a field cannot be told from a call, so
// every field selected from an expression counts as a call, and a column
// name counts when it is a function that accepts a whole row.
func (w *walker) attributeCall(fields []*pg.Node, columnRef bool) {
	if columnRef && len(fields) < 2 {
		return
	}
	for i, f := range fields {
		s := f.GetString_()
		if s == nil || (columnRef && i != len(fields)-1) {
			continue
		}
		if !columnRef || rowFunctions[strings.ToLower(s.Sval)] {
			w.addFunction([]string{s.Sval})
		}
	}
}

func (w *walker) creates(rv *pg.RangeVar) {
	if rv != nil && w.effects() {
		w.st.Creates = append(w.st.Creates, strings.ToLower(rv.Relname))
	}
}

// drop records the relations a DROP names.
func (w *walker) drop(n *pg.DropStmt) {
	switch n.RemoveType {
	case pg.ObjectType_OBJECT_TABLE, pg.ObjectType_OBJECT_VIEW, pg.ObjectType_OBJECT_MATVIEW,
		pg.ObjectType_OBJECT_INDEX, pg.ObjectType_OBJECT_SEQUENCE, pg.ObjectType_OBJECT_FOREIGN_TABLE:
		for _, o := range n.Objects {
			if l := o.GetList(); l != nil {
				w.addTable(strVals(l.Items)...)
			}
		}
	}
}

// settingsTable treats a change to the pg_settings view as what its rule
// runs: set_config of a parameter named by the row.
func (w *walker) settingsTable(rv *pg.RangeVar) {
	if rv == nil || strings.ToLower(rv.Relname) != "pg_settings" {
		return
	}
	if rv.Schemaname != "" && strings.ToLower(rv.Schemaname) != "pg_catalog" {
		return
	}
	w.addFunction([]string{"set_config"})
	w.addSetting("*")
	if w.effects() {
		w.st.dynamicSettings = true
	}
}

func (w *walker) discard(n *pg.DiscardStmt) {
	switch n.Target {
	case pg.DiscardMode_DISCARD_ALL:
		w.addSetting("*")
		if w.effects() {
			w.st.Writes = true
			w.st.Deallocates = append(w.st.Deallocates, "*")
		}
	case pg.DiscardMode_DISCARD_TEMP:
		if w.effects() {
			w.st.Writes = true
		}
	case pg.DiscardMode_DISCARD_PLANS:
		// Plans are caches; prepared statements survive.
	}
}

func deallocateName(n *pg.DeallocateStmt) string {
	if n.Isall || n.Name == "" {
		return "*"
	}
	return n.Name
}

func lockStrength(s pg.LockClauseStrength) string {
	switch s {
	case pg.LockClauseStrength_LCS_FORKEYSHARE:
		return "for key share"
	case pg.LockClauseStrength_LCS_FORSHARE:
		return "for share"
	case pg.LockClauseStrength_LCS_FORNOKEYUPDATE:
		return "for no key update"
	}
	return "for update"
}

func sqlValueFunctionName(op pg.SQLValueFunctionOp) string {
	name := strings.ToLower(strings.TrimPrefix(op.String(), "SVFOP_"))
	return strings.TrimSuffix(name, "_n")
}

func xmlFunctionName(op pg.XmlExprOp) string {
	switch op {
	case pg.XmlExprOp_IS_XMLCONCAT:
		return "xmlconcat"
	case pg.XmlExprOp_IS_XMLELEMENT:
		return "xmlelement"
	case pg.XmlExprOp_IS_XMLFOREST:
		return "xmlforest"
	case pg.XmlExprOp_IS_XMLPARSE:
		return "xmlparse"
	case pg.XmlExprOp_IS_XMLPI:
		return "xmlpi"
	case pg.XmlExprOp_IS_XMLROOT:
		return "xmlroot"
	case pg.XmlExprOp_IS_XMLSERIALIZE:
		return "xmlserialize"
	}
	return ""
}
