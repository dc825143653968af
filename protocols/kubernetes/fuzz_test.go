package kubernetes

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
		req, err := Decode(in)
		if err != nil {
			return
		}
		facts, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("marshal facts: %v", err)
		}
		_ = req.Summary()
		for _, name := range req.AttrNames() {
			v, err := req.Attr(name)
			if err != nil || v == nil {
				t.Fatalf("attr %s: %v %v", name, v, err)
			}
			_ = v.(starlark.Value).String()
		}
		rawIn, err := req.Raw("fuzz").Input()
		if err != nil {
			t.Fatalf("raw input: %v", err)
		}
		again, err := Decode(rawIn)
		if err != nil {
			t.Fatalf("replay of an accepted request is refused: %v\nfacts: %s", err, facts)
		}
		replayed, _ := json.Marshal(again)
		if string(replayed) != string(facts) {
			t.Fatalf("replay differs:\n%s\n%s", facts, replayed)
		}
	})
}
