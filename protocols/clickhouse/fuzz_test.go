package clickhouse

import (
	"testing"

	"github.com/wardproject/ward/protocols/action"
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
		relaytest.CheckAccepted(t, q, func() (action.Facts, error) { return Decode(q.Raw("fuzz").Input()) })
	})
}
