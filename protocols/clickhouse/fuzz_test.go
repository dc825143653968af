package clickhouse

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

// FuzzDecode feeds arbitrary requests to the decoder: it must never panic,
// and whatever it accepts must encode for the audit log, replay from its
// raw form to the same facts, and expose every attribute to Starlark.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/decode/*.txt")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		req, _, _ := strings.Cut(string(data), "\n---\n")
		f.Add(req)
	}
	f.Fuzz(func(t *testing.T, text string) {
		in, err := parseRequest(text)
		if err != nil {
			return
		}
		q, err := Decode(in)
		if err != nil {
			return
		}
		facts, err := json.Marshal(q)
		if err != nil {
			t.Fatalf("marshal facts: %v", err)
		}
		_ = q.Summary()
		for _, name := range q.AttrNames() {
			v, err := q.Attr(name)
			if err != nil || v == nil {
				t.Fatalf("attr %s: %v %v", name, v, err)
			}
			_ = v.(starlark.Value).String()
		}
		again, err := Decode(q.Raw("fuzz").Input())
		if err != nil {
			t.Fatalf("replay of an accepted request is refused: %v\nfacts: %s", err, facts)
		}
		replayed, _ := json.Marshal(again)
		if string(replayed) != string(facts) {
			t.Fatalf("replay differs:\n%s\n%s", facts, replayed)
		}
	})
}
