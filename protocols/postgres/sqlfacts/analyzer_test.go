package sqlfacts

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustAnalyze(t *testing.T, z *Analyzer, sql string) *Analysis {
	t.Helper()
	a, err := z.Analyze(sql)
	if err != nil {
		t.Fatalf("Analyze(%q): %v", sql, err)
	}
	return a
}

func TestCacheAbstractsPlainLiterals(t *testing.T) {
	z := NewAnalyzer(100, 1<<20)
	a1 := mustAnalyze(t, z, "SELECT abalance FROM pgbench_accounts WHERE aid = 1;")
	a2 := mustAnalyze(t, z, "SELECT abalance FROM pgbench_accounts WHERE aid = 123456;")
	if hits, _, _ := z.Stats(); hits != 1 {
		t.Errorf("hits = %d, want 1", hits)
	}
	if got := a2.Statements[0].Text; got != "SELECT abalance FROM pgbench_accounts WHERE aid = 123456" {
		t.Errorf("text of the hit = %q", got)
	}
	if !reflect.DeepEqual(a1.Tables, a2.Tables) || a1.Statements[0].Text == a2.Statements[0].Text {
		t.Errorf("hit facts differ unexpectedly: %+v vs %+v", a1, a2)
	}
	a3 := mustAnalyze(t, z, "SELECT 'x' || name FROM t WHERE a = 'it''s'; SELECT 2")
	a4 := mustAnalyze(t, z, "SELECT 'longer string' || name FROM t WHERE a = 'b'; SELECT 3")
	if a4.Statements[1].Text != "SELECT 3" || a4.Statements[0].Text != "SELECT 'longer string' || name FROM t WHERE a = 'b'" {
		t.Errorf("texts of the hit = %q, %q", a4.Statements[0].Text, a4.Statements[1].Text)
	}
	_ = a3
}

// TestCacheKeepsSensitiveLiterals checks that literals a fact depends on
// never share a cache entry.
func TestCacheKeepsSensitiveLiterals(t *testing.T) {
	cases := []struct {
		name, first, second string
		check               func(*Analysis) bool
	}{
		{"set_config name", "SELECT set_config('work_mem', '1MB', false)", "SELECT set_config('role', 'admin', false)",
			func(a *Analysis) bool { return a.Writes && a.Settings[0] == "role" }},
		{"uescape", `SELECT U&"pg_read_#0066ile" UESCAPE '!' ('/x')`, `SELECT U&"pg_read_#0066ile" UESCAPE '#' ('/x')`,
			func(a *Analysis) bool { return a.Functions[0] == "pg_read_file" }},
		{"do body", "DO 'BEGIN PERFORM 1; END'", "DO 'BEGIN PERFORM pg_sleep(1); END'",
			func(a *Analysis) bool { return strings.Contains(strings.Join(a.Functions, ","), "pg_sleep") }},
		{"query_to_xml", "SELECT query_to_xml('SELECT 1', true, false, '')", "SELECT query_to_xml('SELECT * FROM secrets', true, false, '')",
			func(a *Analysis) bool { return len(a.Tables) == 1 && a.Tables[0] == "secrets" }},
		{"copy program", "COPY t TO PROGRAM 'true'", "COPY t TO PROGRAM 'rm -rf /'",
			func(a *Analysis) bool {
				return a.Statements[0].CopyTarget == "program" && strings.Contains(a.Statements[0].Text, "rm")
			}},
		{"set value", "SET client_encoding = 'UTF8'", "SET client_encoding = 'SJIS'", nil},
		{"crosstab count", "SELECT * FROM crosstab('SELECT 1, 2, 3', 2) AS t(a int, b int)",
			"SELECT * FROM crosstab('SELECT 1, 2, 3', 2.5) AS t(a int, b int)", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := NewAnalyzer(100, 1<<20)
			mustAnalyze(t, z, c.first)
			a, err := z.Analyze(c.second)
			if c.check == nil {
				if err == nil {
					t.Fatalf("second statement analysed without error: %+v", a)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(a) {
				out, _ := json.Marshal(a)
				t.Errorf("facts of %q came from the cache entry of %q: %s", c.second, c.first, out)
			}
		})
	}
}

func TestScanLiterals(t *testing.T) {
	cases := []struct {
		sql  string
		want []string
	}{
		{"SELECT 1, 'a', 2.5", []string{"1", "'a'", "2.5"}},
		{"SELECT E'\\'', 'b'", []string{"'b'"}},
		{"SELECT $$'x'$$, $a$ 'y' $a$, 'z'", []string{"'z'"}},
		{"SELECT /* 'a' /* 'b' */ 'c' */ 'd' -- 'e'\n, 'f'", []string{"'d'", "'f'"}},
		{`SELECT "a'b", 'c'`, []string{"'c'"}},
		{"SELECT 1e5, 0x1F, 1_000, 3., t.1, $1, 7", []string{".1", "7"}},
		{"SELECT x'1F', b'01', n'x', U&'x', 'y'", []string{"'y'"}},
		{"SELECT abc'x'", []string{"'x'"}},
	}
	for _, c := range cases {
		spans, ok := scanLiterals(c.sql, nil)
		if !ok {
			t.Errorf("scan %q failed", c.sql)
			continue
		}
		var got []string
		for _, s := range spans {
			got = append(got, c.sql[s.start:s.end])
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("scan %q = %q, want %q", c.sql, got, c.want)
		}
	}
	for _, bad := range []string{"SELECT 'x", "SELECT /* x", `SELECT "x`, "SELECT $a$ x"} {
		if _, ok := scanLiterals(bad, nil); ok {
			t.Errorf("scan %q succeeded", bad)
		}
	}
}

func TestResolveUnknownPreparedStatement(t *testing.T) {
	z := NewAnalyzer(10, 1<<20)
	a := mustAnalyze(t, z, "EXECUTE gone")
	if _, err := a.Resolve(func(string) (*Statement, bool) { return nil, false }); err == nil {
		t.Fatal("EXECUTE of an unknown statement resolved")
	}
}

func TestLRUBounds(t *testing.T) {
	z := NewAnalyzer(3, 1<<20)
	for _, q := range []string{"SELECT a FROM t", "SELECT b FROM t", "SELECT c FROM t", "SELECT d FROM t"} {
		mustAnalyze(t, z, q)
	}
	if _, _, n := z.Stats(); n != 3 {
		t.Errorf("cache holds %d entries, want 3", n)
	}
}

// TestCacheHitOfManyStatements: a hit costs less than the parse it saves,
// however many statements the message holds (mapping each statement's
// place to the new text once took time quadratic in their number: a
// 540 kB message of 60,000 statements cost seconds on every hit).
func TestCacheHitOfManyStatements(t *testing.T) {
	const n = 40000
	z := NewAnalyzer(DefaultCacheEntries, DefaultCacheBytes)
	start := time.Now()
	mustAnalyze(t, z, strings.Repeat("SELECT 1;", n))
	miss := time.Since(start)
	start = time.Now()
	a := mustAnalyze(t, z, strings.Repeat("SELECT 22;", n))
	hit := time.Since(start)
	if hits, _, _ := z.Stats(); hits != 1 {
		t.Fatalf("hits = %d, want 1", hits)
	}
	if a.Statements[n-1].Text != "SELECT 22" {
		t.Errorf("last statement of the hit = %q", a.Statements[n-1].Text)
	}
	if hit > miss {
		t.Errorf("a cache hit took %v, longer than the parse it saves (%v)", hit, miss)
	}
}
