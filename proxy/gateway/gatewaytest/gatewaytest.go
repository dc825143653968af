// Package gatewaytest holds what tests of a running gateway share across
// packages: reading its audit log, and a log sink safe for the gateway's
// goroutines.
package gatewaytest

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
)

// Records returns every action g has audited, failing the test on error.
func Records(t testing.TB, g *gateway.Gateway) []audit.Record {
	t.Helper()
	recs, err := g.Records(context.Background(), audit.Filter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// LogBuffer is a concurrency-safe sink for a gateway's log.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
