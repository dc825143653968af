package sqlfacts

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// deepStatements nest tens of thousands of levels deep through
// left-associative chains, which the server's grammar accepts without
// limit. libpg_query's protobuf output recurses once per level in C and
// overflowed its thread's stack, killing the whole process.
func deepStatements() map[string]string {
	const n = 30000
	join := "SELECT 1 FROM t0" + strings.Repeat(" JOIN t ON true AND true", n)
	return map[string]string{
		"operators":      "SELECT " + strings.Repeat("1+", n) + "1",
		"casts":          "SELECT 1" + strings.Repeat("::int", n),
		"collations":     "SELECT 'a'" + strings.Repeat(` COLLATE "C"`, n),
		"time zones":     "SELECT now()" + strings.Repeat(" AT TIME ZONE 'UTC'", n),
		"unions":         strings.Repeat("SELECT 1 UNION ", 4*n) + "SELECT 1",
		"joins":          join,
		"CASE and calls": "SELECT 1" + strings.Repeat("+CASE WHEN true THEN 1 END+f(1, 2)", n/2),
		"in a DO body":   "DO $$BEGIN PERFORM " + strings.Repeat("1+", n) + "1; END$$",
		"in a prepare":   "PREPARE p AS SELECT " + strings.Repeat("1||", n) + "1",
	}
}

// TestDeepNestingIsRefused analyses each deep statement in a child
// process (a crash there must not take the test binary down) and expects
// a refusal, not a crash.
func TestDeepNestingIsRefused(t *testing.T) {
	if name := os.Getenv("SQLFACTS_DEEP_CHILD"); name != "" {
		_, err := NewAnalyzer(0, 0).Analyze(deepStatements()[name])
		if !errors.Is(err, ErrUnanalysable) || !strings.Contains(err.Error(), "nest") {
			t.Fatalf("Analyze = %v, want a refusal for nesting", err)
		}
		return
	}
	for name := range deepStatements() {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDeepNestingIsRefused$")
			cmd.Env = append(os.Environ(), "SQLFACTS_DEEP_CHILD="+name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("analysis of %s failed: %v\n%.2000s", name, err, out)
			}
		})
	}
}

// TestWideStatementsAreNotDeep: long lists, bulk VALUES, long AND/OR
// chains and CASE expressions with many branches are wide, not deep, and
// are analysed as before.
func TestWideStatementsAreNotDeep(t *testing.T) {
	const n = 20000
	z := NewAnalyzer(0, 0)
	for _, sql := range []string{
		"SELECT " + strings.Repeat("a + 1, ", n) + "1",
		"INSERT INTO t VALUES " + strings.Repeat("(1 + 1, 'x' || 'y'), ", n) + "(1, 'z')",
		"SELECT 1 FROM t WHERE " + strings.Repeat("id = 1 OR ", n) + "id = 2",
		"SELECT 1 FROM t WHERE " + strings.Repeat("a = 1 AND ", n) + "b = 2",
		"UPDATE t SET v = CASE " + strings.Repeat("WHEN id = 1 THEN 'x' || 'y' ", n) + "END",
		"SELECT 1 FROM t WHERE id IN (" + strings.Repeat("1, ", n) + "2)",
		strings.Repeat("SELECT 1 + 1 + 1; ", n),
	} {
		if _, err := z.Analyze(sql); err != nil {
			t.Errorf("Analyze(%.60q…): %v", sql, err)
		}
	}
}
