package sqlfacts

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// stmtVerb names a statement node's kind and whether running it changes
// data, schema, privileges, configuration or the session's role. Kinds
// that depend on their details (COPY, SET, EXPLAIN, …) are refined by the
// walker. An unknown statement kind is a write (fail safe).
func stmtVerb(n any) (verb string, writes bool) {
	switch n := n.(type) {
	case *pg.SelectStmt:
		return "select", false
	case *pg.InsertStmt:
		return "insert", true
	case *pg.UpdateStmt:
		return "update", true
	case *pg.DeleteStmt:
		return "delete", true
	case *pg.MergeStmt:
		return "merge", true
	case *pg.CopyStmt:
		return "copy", false
	case *pg.TruncateStmt:
		return "truncate", true
	case *pg.GrantStmt:
		return grantVerb(n.IsGrant), true
	case *pg.GrantRoleStmt:
		return grantVerb(n.IsGrant), true
	case *pg.AlterDefaultPrivilegesStmt:
		return "alter", true
	case *pg.DoStmt:
		return "do", false
	case *pg.CallStmt:
		return "call", true
	case *pg.VariableSetStmt:
		if n.Kind == pg.VariableSetKind_VAR_RESET || n.Kind == pg.VariableSetKind_VAR_RESET_ALL {
			return "reset", false
		}
		return "set", false
	case *pg.VariableShowStmt:
		return "show", false
	case *pg.ConstraintsSetStmt:
		return "set", false
	case *pg.ExplainStmt:
		return "explain", false
	case *pg.PrepareStmt:
		return "prepare", false
	case *pg.ExecuteStmt:
		return "execute", false
	case *pg.DeallocateStmt:
		return "deallocate", false
	case *pg.DeclareCursorStmt:
		return "declare", false
	case *pg.FetchStmt:
		if n.Ismove {
			return "move", false
		}
		return "fetch", false
	case *pg.ClosePortalStmt:
		return "close", false
	case *pg.TransactionStmt:
		return transactionVerb(n.Kind), false
	case *pg.LockStmt:
		return "lock", false
	case *pg.VacuumStmt:
		if n.IsVacuumcmd {
			return "vacuum", true
		}
		return "analyze", true
	case *pg.CommentStmt:
		return "comment", true
	case *pg.SecLabelStmt:
		return "security_label", true
	case *pg.ListenStmt:
		return "listen", false
	case *pg.UnlistenStmt:
		return "unlisten", false
	case *pg.NotifyStmt:
		return "notify", false
	case *pg.DiscardStmt:
		return "discard", false
	case *pg.LoadStmt:
		return "load", true
	case *pg.CheckPointStmt:
		return "checkpoint", true
	case *pg.ReindexStmt:
		return "reindex", true
	case *pg.ClusterStmt:
		return "cluster", true
	case *pg.RefreshMatViewStmt:
		return "refresh", true
	case *pg.ReassignOwnedStmt:
		return "reassign", true
	case *pg.ImportForeignSchemaStmt:
		return "import", true
	case *pg.RenameStmt, *pg.AlterSystemStmt, *pg.AlterObjectSchemaStmt, *pg.AlterOwnerStmt,
		*pg.AlterObjectDependsStmt:
		return "alter", true
	case *pg.DropOwnedStmt, *pg.DropRoleStmt, *pg.DropdbStmt, *pg.DropTableSpaceStmt,
		*pg.DropSubscriptionStmt, *pg.DropUserMappingStmt, *pg.DropStmt:
		return "drop", true
	case *pg.CreateTableAsStmt, *pg.ViewStmt, *pg.IndexStmt, *pg.RuleStmt, *pg.DefineStmt,
		*pg.CompositeTypeStmt, *pg.CreateEnumStmt, *pg.CreateRangeStmt, *pg.CreatedbStmt:
		return "create", true
	}
	name := typeName(n)
	switch {
	case strings.HasPrefix(name, "Create"):
		return "create", true
	case strings.HasPrefix(name, "Alter"):
		return "alter", true
	case strings.HasPrefix(name, "Drop"):
		return "drop", true
	}
	return strings.ToLower(strings.TrimSuffix(name, "Stmt")), true
}

func grantVerb(isGrant bool) string {
	if isGrant {
		return "grant"
	}
	return "revoke"
}

func transactionVerb(k pg.TransactionStmtKind) string {
	switch k {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
		return "begin"
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		return "commit"
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return "rollback"
	case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		return "savepoint"
	case pg.TransactionStmtKind_TRANS_STMT_RELEASE:
		return "release"
	case pg.TransactionStmtKind_TRANS_STMT_PREPARE:
		return "prepare_transaction"
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
		return "commit_prepared"
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		return "rollback_prepared"
	}
	return "transaction"
}

// typeName is the Go type name of a parse node, e.g. "CreateStmt".
func typeName(n any) string {
	if m, ok := n.(proto.Message); ok {
		return string(m.ProtoReflect().Descriptor().Name())
	}
	return "unknown"
}
