package httpproxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/ca"
)

// Limits on what agents may send.
const (
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	handshakeTimeout  = 10 * time.Second
	dialTimeout       = 10 * time.Second
)

// Proxy is the gateway's HTTP forward proxy: plain HTTP requests and
// CONNECT. CONNECT to a host that an http endpoint declares is intercepted
// (TLS terminated with a leaf from the gateway CA) and every request in it
// is decided; other hosts are refused or tunnelled as the policy says.
type Proxy struct {
	engine *proxy.Engine
	ca     *ca.CA
	logger *slog.Logger
	// Identify names the agent behind a request on the proxy port (for a
	// CONNECT, the whole tunnel) from the accepted connection and the
	// request's Proxy-Authorization Basic credential. The default is the
	// engine's: the tailnet peer, a declared agent, or "local".
	Identify proxy.Identifier

	outer     *http.Server
	inner     *http.Server // serves intercepted TLS connections
	innerConn *connQueue
	forward   *forwarder

	mu      sync.Mutex
	tunnels map[net.Conn]struct{} // hijacked connections not owned by a server
	closed  bool
}

// New returns a proxy that decides with engine and mints leaves with ca.
func New(engine *proxy.Engine, authority *ca.CA, logger *slog.Logger) *Proxy {
	p := &Proxy{
		engine: engine, ca: authority, logger: logger,
		Identify: engine.Identify,
		tunnels:  make(map[net.Conn]struct{}),
	}
	errLog := slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	p.outer = &http.Server{Handler: http.HandlerFunc(p.serveProxy), ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes, ErrorLog: errLog,
		ConnContext: proxy.WithConn}
	p.innerConn = newConnQueue()
	p.inner = &http.Server{Handler: http.HandlerFunc(p.serveIntercepted), ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes, ErrorLog: errLog,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, tunnelKey{}, c.(*interceptedConn).tunnel)
		}}
	p.forward = newForwarder(engine, logger)
	go func() { _ = p.inner.Serve(p.innerConn) }()
	return p
}

// Serve accepts proxy connections on l until Shutdown.
func (p *Proxy) Serve(l net.Listener) error {
	err := p.outer.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits for requests in flight until ctx ends,
// then closes every connection, tunnels included.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	for c := range p.tunnels {
		c.Close()
	}
	p.mu.Unlock()
	err := errors.Join(p.outer.Shutdown(ctx), p.inner.Shutdown(ctx))
	if err != nil && ctx.Err() != nil {
		// Requests still in flight when time ran out are cut off.
		p.logger.Warn("shutdown timed out; closing the remaining connections")
		return errors.Join(p.outer.Close(), p.inner.Close())
	}
	return err
}

// track registers a hijacked connection so Shutdown can close it; it
// returns false (and closes c) when the proxy is shutting down.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.tunnels[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.tunnels, c)
	p.mu.Unlock()
}

// serveProxy handles a request on the proxy port.
func (p *Proxy) serveProxy(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r)
	case r.URL.IsAbs():
		p.plain(w, r)
	default:
		WriteProblem(w, http.StatusBadRequest, Problem{Error: ErrRefused,
			Reason: "this is ward's proxy port: send proxy requests (set HTTPS_PROXY/HTTP_PROXY to it), not requests for " + r.URL.Path})
	}
}
