package gateway_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/judges/slack/slackfake"
	"github.com/wardproject/ward/proxy/audit"
)

// An agent that goes away while a request with a body larger than
// body_limit waits for a human cancels the wait too: the unread rest of
// the body must not keep the gateway from noticing.
func TestAgentGoneWithALargeBodyCancelsTheApproval(t *testing.T) {
	fake := slackfake.New(t)
	h := startWith(t, slackPolicy, withSlack(fake))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.url("/repos/a/b/issues"), strings.NewReader(strings.Repeat("x", 3<<20)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := h.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	a := h.pendingApproval(fake)
	cancel()
	<-done
	store, _ := audit.OpenSQLiteReadOnly(filepath.Join(h.dir, "state", "audit.db"))
	defer store.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := store.GetApproval(context.Background(), a.ID)
		if got.State == audit.ApprovalCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after the agent left, the approval is %q (%s)", got.State, got.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fake.Interactive(slackfake.ClickPayload(a.ID, "U0OPS", true))
	time.Sleep(200 * time.Millisecond)
	if n := len(h.up.Received()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}
