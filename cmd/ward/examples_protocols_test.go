package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestProtocolExamples runs `ward test` on the kubernetes and clickhouse
// examples: their *_test.star files and fixtures go through the real
// decoders.
func TestProtocolExamples(t *testing.T) {
	for _, dir := range []string{"../../examples/kubernetes", "../../examples/clickhouse"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"test", dir}, &stdout, &stderr); code != 0 {
			t.Errorf("ward test %s: exit %d\n%s%s", dir, code, stdout.String(), stderr.String())
		}
		if !strings.Contains(stdout.String(), "passed") || strings.Contains(stdout.String(), "failed") {
			t.Errorf("ward test %s: %s", dir, stdout.String())
		}
	}
}
