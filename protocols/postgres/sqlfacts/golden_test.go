package sqlfacts

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files' expected facts")

// separator divides a golden file's SQL from the facts expected of it.
const separator = "\n==== facts ====\n"

// TestGolden analyses testdata/analyze/*.txt: SQL, the separator, then the
// expected facts as JSON (or "error: <message>" for a refusal).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/analyze/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	z := NewAnalyzer(100, 1<<20)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sql, want, _ := strings.Cut(string(data), separator)
			got := goldenFacts(z, sql)
			if *update {
				if err := os.WriteFile(f, []byte(sql+separator+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("facts of %s differ (run with -update to accept):\n--- got\n%s\n--- want\n%s", f, got, want)
			}
			// A second analysis (a cache hit) must give the same facts.
			if again := goldenFacts(z, sql); again != got {
				t.Errorf("cached facts differ:\n%s\nvs\n%s", again, got)
			}
		})
	}
}

func goldenFacts(z *Analyzer, sql string) string {
	a, err := z.Analyze(sql)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	if a.NeedsResolve() {
		prepared := &Statement{Verb: "delete", Verbs: []string{"delete"}, Tables: []string{"prepared_target"},
			QualifiedTables: []string{"prepared_target"}, Functions: []string{}, QualifiedFunctions: []string{},
			Writes: true}
		a, err = a.Resolve(func(name string) (*Statement, bool) { return prepared, name == "p" })
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return "error: " + err.Error() + "\n"
	}
	return b.String()
}
