// Package sqlfacts turns SQL text into the facts a policy decides on, using
// the Postgres server's own grammar (libpg_query through pg_query_go) and
// its PL/pgSQL parser for DO bodies and function bodies.
//
// The facts of a message are one Statement per top-level statement plus
// their unions. They are meant to be complete rather than tidy: every
// function the server would call is reported however it is written (quoted,
// schema-qualified, Unicode-escaped, in any clause, inside a CTE, a DO body,
// the target of EXPLAIN/PREPARE/EXECUTE, or in SQL-standard syntax such as
// EXTRACT or AT TIME ZONE that the grammar turns into a call). What cannot
// be analysed statically — dynamic SQL in a DO block, a DO block in another
// language, a function that runs SQL given as a computed string — is an
// error, and the caller denies the statement (fail closed).
//
// An Analyzer caches results in a bounded LRU keyed on the statement text
// with its literals abstracted, so `SELECT … WHERE id = 1` and `… = 2`
// share one entry. Only literals that the parse tree shows to be plain
// constant values are abstracted; every literal whose value a fact depends
// on (the name given to set_config, a UESCAPE character, a DO body) is kept
// exact in the key.
//
// The analyzer assumes what the gateway enforces on every session:
// client_encoding is UTF8 and standard_conforming_strings is on. Statements
// that would change either are refused (see Analysis.Err).
package sqlfacts
