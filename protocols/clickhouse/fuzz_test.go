package clickhouse

import (
	"encoding/json"
	"testing"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/httprelay/relaytest"
)

// FuzzDecode feeds arbitrary requests to the decoder: it must never panic,
// and whatever it accepts must encode for the audit log, replay from its
// raw form to the same facts, and expose every attribute to Starlark.
func FuzzDecode(f *testing.F) {
	relaytest.Seed(f)
	f.Fuzz(func(t *testing.T, text string) {
		in, err := relaytest.ParseRequest(text)
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
