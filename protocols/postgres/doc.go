// Package postgres is ward's Postgres endpoint: a wire-protocol proxy that
// agents reach as if it were the database. Every simple-protocol Query and
// every extended-protocol Parse is parsed with the server's own grammar
// (package sqlfacts) and decided by the endpoint's on_query hook before any
// byte of it goes upstream; the gateway logs in upstream with the declared
// credentials, so agents never hold them.
//
// Denials are ErrorResponse SQLSTATE 42501 "ward: denied: <reason>". They
// are produced in order by sending the server, in place of the denied
// message, a marker that fails to parse: the server then does exactly what
// it does for any failed statement — aborts the open transaction, skips
// the rest of an extended-protocol batch until Sync, reports the true
// transaction status — and the relay replaces the marker's error with the
// denial. So the agent's view and the server's stay identical, pipelines
// stay in sync, and nothing of a denied statement reaches the server.
//
// The facts hooks read are documented on Query.
package postgres
