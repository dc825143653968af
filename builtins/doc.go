// Package builtins holds the Starlark values and modules that operators call
// from a policy: verdict constructors, secret handles (secrets, vault),
// credential injection, judges (llm, slack, webhook) and helpers (log, re,
// json, time).
//
// Each builtin is named by its Starlark name and prefixes its errors with
// it. The Go doc comment of each builtin is its manual, written as a Starlark
// signature; docs/policy.md is checked against these names.
//
// Builtins are thin: they adapt Go services to Starlark. Nothing here
// connects to anything or reads a secret while a policy is being loaded.
package builtins
