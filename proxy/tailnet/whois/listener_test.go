package whois

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"tailscale.com/client/tailscale/apitype"
	"tailscale.com/tailcfg"

	"github.com/wardproject/ward/proxy"
)

// fakeWhoIs answers by remote address once the test has said who it is
// (the test learns the address only after dialing): a node name, "refuse"
// (an error), or "block" (until the context ends).
type fakeWhoIs struct {
	mu    sync.Mutex
	calls map[string]int
	names map[string]string // remote addr → node name
}

func (f *fakeWhoIs) set(c net.Conn, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[c.LocalAddr().String()] = name
}

func (f *fakeWhoIs) whois(ctx context.Context, addr string) (*apitype.WhoIsResponse, error) {
	f.mu.Lock()
	f.calls[addr]++
	f.mu.Unlock()
	for {
		f.mu.Lock()
		name, ok := f.names[addr]
		f.mu.Unlock()
		switch {
		case ok && name == "refuse":
			return nil, errors.New("peer not found")
		case ok && name != "block":
			return &apitype.WhoIsResponse{Node: &tailcfg.Node{Name: name + ".ts.net.", Tags: []string{"tag:agent"}}}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func startListener(t *testing.T, f *fakeWhoIs) (*Listener, *syncLog) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncLog{}
	l := NewListener(inner, f.whois, string(testCap), slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(func() { l.Close() })
	return l, logs
}

func dial(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestListenerIdentifiesOncePerConnection(t *testing.T) {
	f := &fakeWhoIs{calls: map[string]int{}, names: map[string]string{}}
	l, _ := startListener(t, f)
	c := dial(t, l)
	f.set(c, "agent-1")
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	a, ok := proxy.PeerAgent(got)
	if !ok || a.Name != "agent-1" || a.User != "tag:agent" || a.Addr != c.LocalAddr().String() {
		t.Fatalf("PeerAgent = %+v, %v", a, ok)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(got, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := f.calls[c.LocalAddr().String()]; n != 1 {
		t.Errorf("WhoIs called %d times, want once", n)
	}
}

func TestListenerRefusesUnidentifiedPeerWithoutBlockingOthers(t *testing.T) {
	f := &fakeWhoIs{calls: map[string]int{}, names: map[string]string{}}
	l, logs := startListener(t, f)
	f.set(dial(t, l), "block")
	stranger := dial(t, l)
	f.set(stranger, "refuse")
	f.set(dial(t, l), "agent-2")

	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	select {
	case c := <-accepted:
		a, _ := proxy.PeerAgent(c)
		if a.Name != "agent-2" {
			t.Fatalf("accepted %+v first, want agent-2", a)
		}
		c.Close()
	case <-time.After(3 * time.Second):
		t.Fatal("an identified connection waited behind a slow WhoIs")
	}
	// The stranger's connection is closed without a byte being read.
	_ = stranger.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := stranger.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("stranger read %d, %v; want the connection closed", n, err)
	}
	if !strings.Contains(logs.String(), "peer not identified") {
		t.Errorf("refusal not logged: %s", logs.String())
	}
	select {
	case c := <-accepted:
		t.Fatalf("unidentified connection accepted: %v", c.RemoteAddr())
	default:
	}
}

func TestListenerCloseEndsAccept(t *testing.T) {
	f := &fakeWhoIs{calls: map[string]int{}, names: map[string]string{}}
	l, _ := startListener(t, f)
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestListenerBoundsAWhoIsThatIgnoresItsContext: the timeout holds even
// for a lookup that does not watch its context: the connection is refused
// when time is up, not identified late, and Close does not wait for it.
func TestListenerBoundsAWhoIsThatIgnoresItsContext(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stubborn := func(context.Context, string) (*apitype.WhoIsResponse, error) {
		<-release
		return &apitype.WhoIsResponse{Node: &tailcfg.Node{Name: "late.ts.net.", Tags: []string{"tag:agent"}}}, nil
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncLog{}
	l := newListener(inner, stubborn, string(testCap), slog.New(slog.NewTextHandler(logs, nil)), 100*time.Millisecond)
	defer l.Close()
	c := dial(t, l)
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d, %v; want the connection refused when the lookup timed out", n, err)
	}
	if !strings.Contains(logs.String(), "peer not identified") {
		t.Errorf("refusal not logged: %s", logs.String())
	}
}

// TestListenerCloseDuringLookupsLeavesNothingRunning: Close ends the
// lookups in flight and closes their connections.
func TestListenerCloseDuringLookupsLeavesNothingRunning(t *testing.T) {
	before := runtime.NumGoroutine()
	f := &fakeWhoIs{calls: map[string]int{}, names: map[string]string{}}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, f.whois, string(testCap), slog.New(slog.DiscardHandler))
	var conns []net.Conn
	for range 5 {
		c := dial(t, l)
		f.set(c, "block")
		conns = append(conns, c)
	}
	time.Sleep(50 * time.Millisecond) // the lookups are in flight
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a connection being identified was not closed by Close: %v", err)
		}
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}
}
