package sqlfacts

// rowFunctions are the built-in functions that accept a whole row as
// their only argument, so rel.f can call them (from pg_proc: one required
// argument of type record, "any", anyelement, anycompatible, anynonarray
// or anycompatiblenonarray).
var rowFunctions = map[string]bool{
	"any_out": true, "anycompatible_out": true, "anycompatiblenonarray_out": true, "anyelement_out": true,
	"anynonarray_out": true, "concat": true, "hash_record": true, "json_build_array": true, "json_build_object": true,
	"jsonb_build_array": true, "jsonb_build_object": true, "num_nonnulls": true, "num_nulls": true,
	"pg_collation_for": true, "pg_column_compression": true, "pg_column_size": true, "pg_typeof": true,
	"quote_literal": true, "quote_nullable": true, "record_out": true, "record_send": true, "row_to_json": true,
	"to_json": true, "to_jsonb": true,
}

// writingFunctions are built-in (and common extension) functions that
// change data, files, server state or another database when called, so a
// statement calling them writes.
var writingFunctions = map[string]bool{
	"nextval": true, "setval": true,
	"lo_import": true, "lo_export": true, "lo_unlink": true, "lo_create": true, "lo_creat": true,
	"lo_from_bytea": true, "lo_put": true, "lowrite": true, "lo_truncate": true, "lo_truncate64": true,
	"pg_file_write": true, "pg_file_rename": true, "pg_file_unlink": true, "pg_file_sync": true,
	"pg_terminate_backend": true, "pg_cancel_backend": true, "pg_reload_conf": true, "pg_rotate_logfile": true,
	"pg_switch_wal": true, "pg_create_restore_point": true, "pg_promote": true, "pg_wal_replay_pause": true,
	"pg_wal_replay_resume": true, "pg_backup_start": true, "pg_backup_stop": true,
	"pg_create_physical_replication_slot": true, "pg_create_logical_replication_slot": true,
	"pg_drop_replication_slot": true, "pg_copy_physical_replication_slot": true,
	"pg_copy_logical_replication_slot": true, "pg_replication_slot_advance": true,
	"pg_logical_slot_get_changes": true, "pg_logical_slot_get_binary_changes": true, "pg_logical_emit_message": true,
	"pg_replication_origin_create": true, "pg_replication_origin_drop": true, "pg_replication_origin_advance": true,
	"pg_replication_origin_session_setup": true, "pg_replication_origin_session_reset": true,
	"pg_replication_origin_xact_setup": true, "pg_replication_origin_xact_reset": true,
	"pg_stat_reset": true, "pg_stat_reset_shared": true, "pg_stat_reset_single_table_counters": true,
	"pg_stat_reset_single_function_counters": true, "pg_stat_reset_slru": true, "pg_stat_reset_replication_slot": true,
	"pg_stat_reset_subscription_stats": true, "pg_stat_statements_reset": true,
	"pg_import_system_collations": true, "pg_import_system_collations_all": true,
	"dblink_exec": true, "dblink_connect": true, "dblink_connect_u": true, "dblink_send_query": true,
}
