package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTailnetExample runs `ward test examples/tailnet`: hooks that read
// tailnet identities (tags, user, caps), tested without a tailnet.
func TestTailnetExample(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"test", "../../examples/tailnet"}, &stdout, &stderr); code != 0 {
		t.Fatalf("ward test examples/tailnet: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "5 passed") {
		t.Errorf("ward test examples/tailnet: %s", stdout.String())
	}
}
