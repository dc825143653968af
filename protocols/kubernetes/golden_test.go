package kubernetes

import (
	"flag"
	"testing"

	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/protocols/httprelay/relaytest"
)

var update = flag.Bool("update", false, "rewrite the golden files of decoder tests")

// TestDecodeGolden decodes every testdata/decode/*.txt request and compares
// the facts with what follows its "---" line.
func TestDecodeGolden(t *testing.T) {
	relaytest.Golden(t, *update, func(in *httprelay.Input) (any, error) { return Decode(in) })
}
