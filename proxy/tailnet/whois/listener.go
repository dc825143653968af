package whois

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"tailscale.com/client/tailscale/apitype"
	"tailscale.com/tailcfg"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy"
)

// Func asks the tailnet who is behind a connection's remote address; it is
// tsnet's LocalClient.WhoIs, or a stand-in in tests.
type Func func(ctx context.Context, remoteAddr string) (*apitype.WhoIsResponse, error)

// Limits of identification.
const (
	// Timeout bounds one WhoIs; a peer not identified by then is refused.
	Timeout = 5 * time.Second
	// maxPending bounds connections being identified at once; beyond it,
	// the listener stops accepting until one finishes.
	maxPending = 128
)

// Listener accepts connections from a tailnet listener, asks WhoIs once
// for each, and hands out only identified ones, as *proxy.IdentifiedConn.
// A connection whose peer cannot be identified is closed before anything
// is read from it, and logged. One slow WhoIs does not hold up others.
type Listener struct {
	ln         net.Listener
	whois      Func
	capability tailcfg.PeerCapability
	logger     *slog.Logger
	timeout    time.Duration // bounds one lookup (Timeout)

	ready chan net.Conn
	done  chan struct{}
	errc  chan error // the inner listener's terminal error
	once  sync.Once
	wg    sync.WaitGroup
}

// NewListener starts identifying the connections ln accepts. capability is
// the app capability whose grants fill agent.caps.
func NewListener(ln net.Listener, whois Func, capability string, logger *slog.Logger) *Listener {
	return newListener(ln, whois, capability, logger, Timeout)
}

func newListener(ln net.Listener, whois Func, capability string, logger *slog.Logger, timeout time.Duration) *Listener {
	l := &Listener{ln: ln, whois: whois, capability: tailcfg.PeerCapability(capability), logger: logger, timeout: timeout,
		ready: make(chan net.Conn), done: make(chan struct{}), errc: make(chan error, 1)}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	sem := make(chan struct{}, maxPending)
	for {
		select {
		case sem <- struct{}{}:
		case <-l.done:
			return
		}
		c, err := l.ln.Accept()
		if err != nil {
			l.errc <- err
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer func() { <-sem }()
			l.identify(c)
		}()
	}
}

// identify asks WhoIs about c and queues it, or refuses it.
func (l *Listener) identify(c net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	addr := c.RemoteAddr().String()
	agent, err := l.lookup(ctx, addr)
	cancel()
	if err != nil {
		// Log first: whoever sees the connection close can find why.
		l.logger.Warn("tailnet connection refused: peer not identified", "addr", addr, "listener", l.ln.Addr().String(), "error", err)
		c.Close()
		return
	}
	select {
	case l.ready <- &proxy.IdentifiedConn{Conn: c, Agent: agent}:
	case <-l.done:
		c.Close()
	}
}

// lookup asks WhoIs and converts the answer. It waits no longer than ctx
// even for a WhoIs that does not watch its context: a late answer is a
// refusal, and the lookup's goroutine ends when WhoIs returns.
func (l *Listener) lookup(ctx context.Context, addr string) (action.Agent, error) {
	type answer struct {
		who *apitype.WhoIsResponse
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		who, err := l.whois(ctx, addr)
		ch <- answer{who, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		return action.Agent{}, fmt.Errorf("whois: no answer: %w", ctx.Err())
	}
	if a.err != nil {
		return action.Agent{}, fmt.Errorf("whois: %w", a.err)
	}
	if err := ctx.Err(); err != nil {
		return action.Agent{}, fmt.Errorf("whois: answered too late: %w", err)
	}
	return Agent(a.who, l.capability, addr)
}

// Accept returns the next identified connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errc:
		l.errc <- err
		return nil, fmt.Errorf("tailnet listener: %w", err)
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the tailnet listener; connections
// still being identified are closed.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.ln.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	})
	return err
}

// Addr is the tailnet address listened on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }
