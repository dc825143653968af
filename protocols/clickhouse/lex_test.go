package clickhouse

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheckTokens(t *testing.T) {
	cases := []struct {
		name, sql string
		refused   string // "" when the query is unambiguous
	}{
		{"plain", "SELECT a FROM t WHERE s = 'x'", ""},
		{"string escapes", `SELECT 'it''s', 'a\'b', 'c\\'`, ""},
		{"dollar in a string", "SELECT '$a$'", ""},
		{"dollar in a comment", "SELECT 1 -- $a$\n", ""},
		{"crlf line comment", "SELECT 1 -- note\r\nFROM t", ""},
		{"line comment at the end", "SELECT 1 -- note\r", ""},
		{"two block comments", "SELECT /* a */ 1 /* b */", ""},
		{"plain quoted identifiers", "SELECT `a b`, \"c\" FROM `db`.`t`", ""},
		{"backslash in back quotes", "SELECT 1 AS `a\\`, 'q`, v FROM secrets --'", "quoted identifier"},
		{"backslash in double quotes", `SELECT 1 AS "a\", 'q", v FROM secrets --'`, "quoted identifier"},
		{"doubled back quote", "SELECT * FROM `sec``rets`", "quoted identifier"},
		{"carriage return in a comment", "SELECT 'a' -- \r, 'b\n, v FROM secrets -- '", "carriage return"},
		{"nested comment", "SELECT 'a' /* /* */ , '*/ , (SELECT v FROM secrets) --'", "nested /* comment"},
		{"heredoc", "SELECT $a$ ' $a$, v FROM secrets --'", "'$'"},
		{"dollar in a word", "SELECT a$b FROM t", "'$'"},
		{"unterminated comment", "SELECT 1 /* open", "cannot tokenize"},
		{"unterminated identifier", "SELECT `open", "cannot tokenize"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkTokens(tc.sql)
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
				t.Fatalf("got %v, want a refusal mentioning %q", err, tc.refused)
			}
		})
	}
}

// TestDecodeRefusesAmbiguousTokens checks that Decode applies checkTokens
// to what it parses: the SQL before INSERT data, and Values rows.
func TestDecodeRefusesAmbiguousTokens(t *testing.T) {
	for _, sql := range []string{
		"INSERT INTO t /* /* */ FORMAT TSV */ SELECT * FROM secrets",
		"INSERT INTO t VALUES ('a' /* /* */ , '*/ , (SELECT v FROM secrets) --')",
		"SELECT 1 AS `a\\`, 'q`, v FROM secrets --'",
	} {
		_, err := Decode(&Input{Method: http.MethodPost, Target: "/", Header: http.Header{}, Body: []byte(sql)})
		if err == nil || !strings.Contains(err.Error(), "ambiguous query") {
			t.Errorf("%q: got %v, want an ambiguous-query refusal", sql, err)
		}
	}
	data := "INSERT INTO t FORMAT TSV\n`a\\`\t$x$ /* /* */\n"
	if _, err := Decode(&Input{Method: http.MethodPost, Target: "/", Header: http.Header{}, Body: []byte(data)}); err != nil {
		t.Errorf("TSV rows are data, not SQL, yet: %v", err)
	}
}

// TestDecodeRefusesDeepNesting: the parser recurses per bracket; a body of
// a million '(' overflowed the stack, which kills the whole gateway.
func TestDecodeRefusesDeepNesting(t *testing.T) {
	for _, sql := range []string{
		"SELECT " + strings.Repeat("(", 1<<20),
		"SELECT " + strings.Repeat("f(", 1<<19) + "1" + strings.Repeat(")", 1<<19),
		"INSERT INTO t VALUES (" + strings.Repeat("[", 2000) + "1" + strings.Repeat("]", 2000) + ")",
	} {
		_, err := Decode(&Input{Method: http.MethodPost, Target: "/", Header: http.Header{}, Body: []byte(sql)})
		if err == nil || !strings.Contains(err.Error(), "nested deeper than") {
			t.Errorf("%.30q…: got %v, want a nesting refusal", sql, err)
		}
	}
	ok := "SELECT " + strings.Repeat("(", maxNesting) + "1" + strings.Repeat(")", maxNesting)
	if _, err := Decode(&Input{Method: http.MethodPost, Target: "/", Header: http.Header{}, Body: []byte(ok)}); err != nil {
		t.Errorf("%d levels: %v", maxNesting, err)
	}
}
