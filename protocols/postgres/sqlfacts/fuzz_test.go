package sqlfacts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzAnalyze checks that analysis never panics and that the cache never
// changes the facts: after priming the cache with sql, a variant whose
// abstractable literals hold other values must get exactly the facts an
// uncached analysis of the variant gives.
func FuzzAnalyze(f *testing.F) {
	files, _ := filepath.Glob("testdata/analyze/*.txt")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err == nil {
			sql, _, _ := strings.Cut(string(data), separator)
			f.Add(sql)
		}
	}
	f.Fuzz(func(t *testing.T, sql string) {
		z := NewAnalyzer(10, 1<<20)
		_, err := z.Analyze(sql)
		if err != nil {
			return
		}
		lits, ok := scanLiterals(sql, nil)
		if !ok {
			return
		}
		variant := substitute(sql, lits)
		cached, errCached := z.Analyze(variant)
		fresh, _, _, errFresh := analyse(variant)
		if (errCached == nil) != (errFresh == nil) {
			t.Fatalf("variant %q: cached error %v, fresh error %v", variant, errCached, errFresh)
		}
		if errCached != nil {
			return
		}
		a, _ := json.Marshal(cached)
		b, _ := json.Marshal(fresh)
		if string(a) != string(b) {
			t.Fatalf("cache changed the facts of %q (primed with %q):\ncached %s\nfresh  %s", variant, sql, a, b)
		}
	})
}

// substitute replaces every literal of sql with another of its kind.
func substitute(sql string, lits []span) string {
	var b strings.Builder
	last := 0
	for i, l := range lits {
		b.WriteString(sql[last:l.start])
		if l.kind == 'n' {
			b.WriteString("9")
		} else if i%2 == 0 {
			b.WriteString("'role'")
		} else {
			b.WriteString("'x''y'")
		}
		last = l.end
	}
	b.WriteString(sql[last:])
	return b.String()
}
