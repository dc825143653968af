// Package relaytest holds what the decoder tests of port endpoints
// (Kubernetes, ClickHouse) share: golden files of requests and their facts,
// and the fuzz corpus made from them.
package relaytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/httprelay"
)

// Files are the golden files of a decoder: testdata/decode/*.txt, each a
// request ("METHOD TARGET", header lines, a blank line, the body), a line
// "---", and the facts as indented JSON or "refused: reason".
const Files = "testdata/decode/*.txt"

// Golden decodes every golden file with decode and compares the result;
// with update, it rewrites the files instead.
func Golden(t *testing.T, update bool, decode func(*httprelay.Input) (any, error)) {
	files, err := filepath.Glob(Files)
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			reqText, want, _ := strings.Cut(string(data), "\n---\n")
			in, err := ParseRequest(reqText)
			if err != nil {
				t.Fatal(err)
			}
			got := Result(decode(in))
			if update {
				if err := os.WriteFile(file, []byte(reqText+"\n---\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("facts differ (run go test -update to accept)\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

// Result renders decoded facts as indented JSON, or the refusal.
func Result(facts any, err error) string {
	if err != nil {
		var refused *httprelay.RefusedError
		if errors.As(err, &refused) {
			return "refused: " + refused.Reason + "\n"
		}
		return "error: " + err.Error() + "\n"
	}
	b, err := json.Marshal(facts)
	if err != nil {
		return "marshal: " + err.Error() + "\n"
	}
	var out bytes.Buffer
	_ = json.Indent(&out, b, "", "  ")
	return out.String() + "\n"
}

// ParseRequest reads "METHOD TARGET\nHeader: v\n\nbody".
func ParseRequest(text string) (*httprelay.Input, error) {
	head, body, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	method, target, ok := strings.Cut(lines[0], " ")
	if !ok {
		return nil, errors.New("first line must be METHOD TARGET")
	}
	in := &httprelay.Input{Method: method, Target: target, Header: http.Header{}, Body: []byte(body)}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, errors.New("bad header line " + l)
		}
		in.Header.Add(k, strings.TrimSpace(v))
	}
	if len(in.Body) == 0 {
		in.Body = nil
	}
	return in, nil
}

// Seed adds the requests of the golden files to a fuzz corpus.
func Seed(f *testing.F) {
	files, _ := filepath.Glob(Files)
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		req, _, _ := strings.Cut(string(data), "\n---\n")
		f.Add(req)
	}
}

// CheckAccepted checks what a decoder accepted: its facts encode for the
// audit log, every attribute reads in Starlark, and replaying the
// recorded form gives the same facts.
func CheckAccepted(t *testing.T, facts action.Facts, replay func() (action.Facts, error)) {
	t.Helper()
	encoded, err := json.Marshal(facts)
	if err != nil {
		t.Fatalf("marshal facts: %v", err)
	}
	_ = facts.Summary()
	for _, name := range facts.AttrNames() {
		v, err := facts.Attr(name)
		if err != nil || v == nil {
			t.Fatalf("attr %s: %v %v", name, v, err)
		}
		_ = v.String()
	}
	again, err := replay()
	if err != nil {
		t.Fatalf("replay of an accepted request is refused: %v\nfacts: %s", err, encoded)
	}
	replayed, _ := json.Marshal(again)
	if string(replayed) != string(encoded) {
		t.Fatalf("replay differs:\n%s\n%s", encoded, replayed)
	}
}
