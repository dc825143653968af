package sqlfacts

import (
	"errors"
	"strings"
	"testing"
)

// TestReadsDifferently checks which texts the server could read
// differently from ward after an unseen change of
// standard_conforming_strings or client_encoding, including on a cache hit
// whose literal differs.
func TestReadsDifferently(t *testing.T) {
	cases := []struct {
		name string
		sql  string
		want bool
	}{
		{"plain", "SELECT 'a', 1 FROM t", false},
		{"backslash in a standard string", `SELECT 'a\' AS x, ' AS y -- '`, true},
		{"backslash in a national string", `SELECT N'a\b'`, true},
		{"escape string", `SELECT E'a\\b\''`, false},
		{"dollar quotes", `SELECT $$a\b$$`, false},
		{"comment", "SELECT 1 -- 'a\\b'\n", false},
		{"quoted identifier", `SELECT 1 AS "a\b"`, false},
		{"non-ASCII in a string", "SELECT 'café'", false},
		{"non-ASCII before punctuation", "SELECT 1 AS é;", true},
		{"non-ASCII before a backslash", "SELECT E'é\\''", true},
	}
	z := NewAnalyzer(100, 1<<20)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := mustAnalyze(t, z, c.sql)
			if got := a.ReadsDifferently(); got != c.want {
				t.Errorf("ReadsDifferently(%q) = %v, want %v", c.sql, got, c.want)
			}
		})
	}
	// Two texts with one cache key: the flag belongs to each text.
	for _, order := range [][2]string{{`SELECT 'a' FROM t`, `SELECT 'a\b' FROM t`}, {`SELECT 'c\d' FROM u`, `SELECT 'c' FROM u`}} {
		first, second := mustAnalyze(t, z, order[0]), mustAnalyze(t, z, order[1])
		if first.ReadsDifferently() == second.ReadsDifferently() {
			t.Errorf("%q and %q: both ReadsDifferently = %v", order[0], order[1], first.ReadsDifferently())
		}
	}
}

// TestNestedTextThatReadsDifferently: SQL the server parses only when it
// runs (a DO body, a constant EXECUTE string, query_to_xml's query) is
// read after earlier statements ran, maybe with other settings: text in it
// that reads differently is refused. A function body is only reported.
func TestNestedTextThatReadsDifferently(t *testing.T) {
	z := NewAnalyzer(100, 1<<20)
	for _, sql := range []string{
		`DO $$BEGIN RAISE NOTICE 'a\b'; END$$`,
		`DO $$BEGIN EXECUTE E'SELECT ''a\\b'''; END$$`,
		`SELECT query_to_xml('SELECT ''a\b''', true, true, '')`,
		`FETCH 1 FROM c; DO $$BEGIN PERFORM 'a\' , pg_sleep(1) --'; END$$`,
	} {
		_, err := z.Analyze(sql)
		if !errors.Is(err, ErrUnanalysable) || !strings.Contains(err.Error(), "standard_conforming_strings") {
			t.Errorf("Analyze(%q) = %v, want a refusal naming the setting", sql, err)
		}
	}
	for _, sql := range []string{
		`DO $$BEGIN RAISE NOTICE E'a\\b'; END$$`,
		`CREATE FUNCTION f(x text) RETURNS text LANGUAGE sql AS $$SELECT regexp_replace(x, '\s+', ' ')$$`,
		`EXPLAIN SELECT query_to_xml('SELECT ''a\b''', true, true, '')`,
	} {
		mustAnalyze(t, z, sql)
	}
}
