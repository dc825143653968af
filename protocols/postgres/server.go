package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/postgres/sqlfacts"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/ca"
)

// Server serves one postgres endpoint on a listener. It looks the endpoint
// up by name in the engine's current snapshot for every connection and
// every decision, so a reload applies to open sessions.
type Server struct {
	Engine   *proxy.Engine
	Endpoint string
	Analyzer *sqlfacts.Analyzer
	// CA issues the certificate agents see when they negotiate TLS; nil
	// answers every SSLRequest with 'N'.
	CA     *ca.CA
	Logger *slog.Logger
	// Identify names the agent of a new connection. The default trusts
	// connections from loopback as the local agent and refuses others.
	// The tailnet transport replaces it with a WhoIs lookup; a per-agent
	// password check calls c.Password.
	Identify func(ctx context.Context, c ConnInfo) (action.Agent, error)
	// Dial opens connections to the upstream; default a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// StartupTimeout bounds an agent's startup and the upstream login;
	// default 30s.
	StartupTimeout time.Duration

	mu       sync.Mutex
	ln       net.Listener
	closed   bool
	sessions map[*session]struct{}
	keys     map[cancelKey]*session
	wg       sync.WaitGroup
}

// ConnInfo describes a new agent connection to Identify.
type ConnInfo struct {
	// Conn is the agent's connection (TLS when negotiated): the tailnet
	// transport's identity rides on it (proxy.PeerAgent).
	Conn       net.Conn
	RemoteAddr net.Addr
	User       string // the user named in the startup message
	Database   string
	Params     map[string]string // every startup parameter
	// Password asks the agent for a password (cleartext, so only over TLS
	// or loopback) and returns it.
	Password func() (string, error)
}

// ErrAgentRefused is returned by an Identify that refuses a connection.
var ErrAgentRefused = errors.New("agent refused")

// LocalIdentity is the default Identify: connections from loopback are the
// local agent; others are refused.
func LocalIdentity(_ context.Context, c ConnInfo) (action.Agent, error) {
	tcp, ok := c.RemoteAddr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		return action.Agent{}, fmt.Errorf("%w: only loopback connections are trusted here; agents elsewhere connect over the tailnet", ErrAgentRefused)
	}
	return action.LocalAgent(c.RemoteAddr.String()), nil
}

// Serve accepts agent connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.ln = ln
	if s.sessions == nil {
		s.sessions = make(map[*session]struct{})
		s.keys = make(map[cancelKey]*session)
	}
	s.mu.Unlock()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			if s.isClosed() {
				return net.ErrClosed
			}
			return err
		}
		delay = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
		}()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting, ends every session (agents get a FATAL
// "ward: the gateway is shutting down"), and waits for them up to ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		go sess.terminate("57P01", "ward: the gateway is shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Server) startupTimeout() time.Duration {
	if s.StartupTimeout > 0 {
		return s.StartupTimeout
	}
	return 30 * time.Second
}

// register adds a running session; it fails once the server is shutting down.
func (s *Server) register(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[sess] = struct{}{}
	s.keys[sess.key] = sess
	return true
}

func (s *Server) unregister(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess)
	delete(s.keys, sess.key)
}
