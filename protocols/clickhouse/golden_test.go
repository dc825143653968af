package clickhouse

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardproject/ward/protocols/httprelay"
)

var update = flag.Bool("update", false, "rewrite the golden files of decoder tests")

// TestDecodeGolden decodes every testdata/decode/*.txt request and compares
// the facts (as JSON) with what follows the "---" line. A request file is
// "METHOD TARGET", header lines, a blank line and the body.
func TestDecodeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/decode/*.txt")
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
			in, err := parseRequest(reqText)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeResult(in)
			if *update {
				out := reqText + "\n---\n" + got
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
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

// decodeResult is the facts as indented JSON, or the refusal.
func decodeResult(in *Input) string {
	q, err := Decode(in)
	if err != nil {
		var refused *httprelay.RefusedError
		if errors.As(err, &refused) {
			return "refused: " + refused.Reason + "\n"
		}
		return "error: " + err.Error() + "\n"
	}
	b, err := json.Marshal(q)
	if err != nil {
		return "marshal: " + err.Error() + "\n"
	}
	var out bytes.Buffer
	_ = json.Indent(&out, b, "", "  ")
	return out.String() + "\n"
}

// parseRequest reads "METHOD TARGET\nHeader: v\n\nbody".
func parseRequest(text string) (*Input, error) {
	head, body, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	method, target, ok := strings.Cut(lines[0], " ")
	if !ok {
		return nil, errors.New("first line must be METHOD TARGET")
	}
	in := &Input{Method: method, Target: target, Header: http.Header{}, Body: []byte(body)}
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
