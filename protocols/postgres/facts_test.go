package postgres

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardproject/ward/protocols/postgres/sqlfacts"
)

// The facts judges see (and the LLM judge's cache is keyed on) hold the
// SQL of the prepared statements an EXECUTE runs: "EXECUTE foo(1)" with
// the verbs of its body does not say which rows a DELETE deletes, and two
// different bodies under one name would share a cached answer.
func TestFactsJSONCarriesThePreparedSQL(t *testing.T) {
	a := &sqlfacts.Analysis{Statements: []sqlfacts.Statement{{Verb: "execute", Text: "EXECUTE foo(1)", Verbs: []string{"delete", "execute"}}}}
	byID := &Query{SQL: "EXECUTE foo(1)", Analysis: a, Prepared: map[string]string{"foo": "DELETE FROM users WHERE id = $1"}}
	byOrg := &Query{SQL: "EXECUTE foo(1)", Analysis: a, Prepared: map[string]string{"foo": "DELETE FROM users WHERE org = $1"}}
	one, _ := json.Marshal(byID)
	other, _ := json.Marshal(byOrg)
	if !strings.Contains(string(one), "DELETE FROM users WHERE id = $1") || string(one) == string(other) {
		t.Fatalf("facts of EXECUTE do not say what it runs:\n%s\n%s", one, other)
	}
}
