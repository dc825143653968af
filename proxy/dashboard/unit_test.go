package dashboard

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/audit"
)

func TestFixtureName(t *testing.T) {
	tests := []struct{ id, want string }{
		{"a06h2s9h2ptg0pmwspb4d6", "a06h2s9h2ptg0pmwspb4d6.fixture.json"},
		{`a1"; filename="evil.sh`, "a1filenameevilsh.fixture.json"},
		{"../../etc/passwd", "etcpasswd.fixture.json"},
		{"\r\nSet-Cookie: x", "Set-Cookiex.fixture.json"},
		{"", "action.fixture.json"},
		{"é", "action.fixture.json"},
	}
	for _, tt := range tests {
		if got := fixtureName(tt.id); got != tt.want {
			t.Errorf("fixtureName(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestCleanReason(t *testing.T) {
	got, err := cleanReason("  not\ttoday\r\n\x00please  ")
	if err != nil || got != "not today   please" {
		t.Errorf("cleanReason = %q, %v", got, err)
	}
}

func TestIdentityIn(t *testing.T) {
	tests := []struct {
		name string
		id   Identity
		list []string
		want bool
	}{
		{"login", Identity{Login: "alice@example.com"}, []string{"alice@example.com"}, true},
		{"login, other case", Identity{Login: "Alice@Example.com"}, []string{"alice@example.com"}, true},
		{"other login", Identity{Login: "bob@example.com"}, []string{"alice@example.com"}, false},
		{"tag", Identity{Tags: []string{"tag:a", "tag:ops"}}, []string{"tag:ops"}, true},
		{"tag is not a login", Identity{Login: "tag:ops"}, []string{"tag:ops"}, false},
		{"login is not a tag", Identity{Tags: []string{"alice@example.com"}}, []string{"alice@example.com"}, false},
		{"empty login never matches", Identity{}, []string{""}, false},
		{"empty list", Identity{Login: "alice@example.com"}, nil, false},
	}
	for _, tt := range tests {
		if got := tt.id.In(tt.list); got != tt.want {
			t.Errorf("%s: In = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// emptyStore has no actions; the hub tests drive publish themselves.
type emptyStore struct{}

func (emptyStore) List(context.Context, audit.Filter) ([]audit.Record, error) { return nil, nil }
func (emptyStore) Get(context.Context, string) (audit.Record, error) {
	return audit.Record{}, audit.ErrNotFound
}

func TestHubDropsASubscriberThatFallsBehind(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	h := newHub(emptyStore{}, time.Hour, slog.New(slog.DiscardHandler), done)
	slow, err := h.subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := h.subscribe(t.Context())
	go func() {
		for range fast.ch {
		}
	}()
	for i := range subscriberBuffer + 10 {
		h.publish(event{rows: []row{{Seq: int64(i + 1)}}})
	}
	n := 0
	for range slow.ch { // closed once dropped
		n++
	}
	if n != subscriberBuffer {
		t.Errorf("the slow subscriber got %d events before it was dropped", n)
	}
	h.unsubscribe(slow) // safe after a drop
	h.unsubscribe(fast)
}

func TestHubLimitsSubscribers(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	h := newHub(emptyStore{}, time.Hour, slog.New(slog.DiscardHandler), done)
	for range maxSubscribers {
		if _, err := h.subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.subscribe(t.Context()); err == nil {
		t.Fatal("no limit on event streams")
	}
}

func TestShutdownBeforeServeClosesTheListener(t *testing.T) {
	s, err := New(Config{Store: emptyStore{}, Status: func() Status { return Status{} }, Access: func() Access { return Access{} },
		Token: "0123456789abcdef0123", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Fatal("the listener is still open")
	}
}

func TestNewRefusesAShortToken(t *testing.T) {
	_, err := New(Config{Store: emptyStore{}, Status: func() Status { return Status{} }, Access: func() Access { return Access{} }, Token: "short"})
	if err == nil {
		t.Fatal("a short token was accepted")
	}
	if _, err := New(Config{Store: emptyStore{}}); err == nil {
		t.Fatal("a dashboard without Status and Access")
	}
}
