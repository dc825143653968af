package httpproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// tunnel is what a CONNECT established: where the agent wants to go and
// who it is. Every request inside the tunnel carries it.
type tunnel struct {
	host  string // policy.CanonicalHost
	port  int
	agent action.Agent
}

type tunnelKey struct{}

func (t tunnel) String() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// parseAuthority reads a CONNECT target "host:port".
func parseAuthority(s string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("CONNECT target %q is not host:port", s)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("CONNECT target %q has a bad port", s)
	}
	host = policy.CanonicalHost(h)
	if !policy.ValidHost(host) {
		return "", 0, fmt.Errorf("CONNECT target %q has a bad host name", s)
	}
	return host, port, nil
}

// connect handles CONNECT on the proxy port.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	host, port, err := parseAuthority(r.RequestURI)
	if err != nil {
		WriteProblem(w, http.StatusBadRequest, Problem{Error: ErrRefused, Reason: err.Error()})
		return
	}
	agent, err := p.identify(r)
	if err != nil {
		writeUnidentified(w, err)
		return
	}
	t := tunnel{host: host, port: port, agent: agent}
	snap := p.engine.Snapshot()
	ep := snap.Policy.Route("https", host, port)
	if ep == nil {
		p.unknownHost(w, r, snap, t)
		return
	}
	conn := p.hijack(w, r)
	if conn == nil {
		return
	}
	go p.intercept(conn, t)
}

// writeUnidentified refuses a request whose agent cannot be named.
func writeUnidentified(w http.ResponseWriter, err error) {
	w.Header().Set("Proxy-Authenticate", `Basic realm="ward"`)
	WriteProblem(w, http.StatusProxyAuthRequired, Problem{Error: ErrRefused, Reason: err.Error()})
}

// hijack answers a CONNECT with 200 and takes over the connection.
func (p *Proxy) hijack(w http.ResponseWriter, r *http.Request) net.Conn {
	hj, ok := w.(http.Hijacker)
	if !ok {
		WriteProblem(w, http.StatusInternalServerError, Problem{Error: ErrGateway, Reason: "connection cannot be taken over"})
		return nil
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		p.logger.Debug("hijack failed", "error", err)
		return nil
	}
	_ = conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		conn.Close()
		return nil
	}
	if brw.Reader.Buffered() > 0 {
		conn = &prefixedConn{Conn: conn, r: brw.Reader}
	}
	if !p.track(conn) {
		return nil
	}
	return conn
}

// intercept terminates TLS on conn with a leaf for the tunnel's host and
// hands the connection to the inner server.
func (p *Proxy) intercept(conn net.Conn, t tunnel) {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			sni := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
			if sni != "" && sni != t.host {
				return nil, fmt.Errorf("TLS server name %q differs from the CONNECT target %s", hello.ServerName, t)
			}
			return p.ca.Leaf(t.host)
		},
	}
	tlsConn := tls.Server(conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := tlsConn.HandshakeContext(ctx)
	cancel()
	p.untrack(conn)
	if err != nil {
		p.logger.Debug("TLS handshake with agent failed", "target", t.String(), "error", err)
		conn.Close()
		return
	}
	if !p.innerConn.push(&interceptedConn{Conn: tlsConn, tunnel: t}) {
		tlsConn.Close()
	}
}

// unknownHost refuses or tunnels a CONNECT to a host no endpoint declares.
func (p *Proxy) unknownHost(w http.ResponseWriter, r *http.Request, snap *proxy.Snapshot, t tunnel) {
	act := p.engine.NewAction("http", "", t.agent)
	act.Facts = &Tunnel{Method: http.MethodConnect, Host: t.host, Port: t.port}
	gw := snap.Policy.Gateway
	reason := fmt.Sprintf("host %s is not declared by any endpoint", t)
	if gw.UnknownHosts == "passthrough" || gw.Observe() {
		verdict := audit.VerdictPassthrough
		if gw.UnknownHosts != "passthrough" {
			verdict = audit.VerdictWouldDeny
		}
		if err := p.engine.Record(act, verdict, action.Verdict{Allowed: true, Reason: reason, DecidedBy: "gateway"}); err != nil {
			WriteProblem(w, http.StatusServiceUnavailable, Problem{Error: ErrGateway, Reason: err.Error(), ActionID: act.ID})
			return
		}
		p.passthrough(w, r, act, t)
		return
	}
	v := action.Verdict{Reason: reason + " (unknown_hosts = \"deny\")", DecidedBy: "gateway"}
	if err := p.engine.Record(act, audit.VerdictDeny, v); err != nil {
		WriteProblem(w, http.StatusServiceUnavailable, Problem{Error: ErrGateway, Reason: err.Error(), ActionID: act.ID})
		return
	}
	WriteProblem(w, http.StatusForbidden, Problem{Error: ErrDenied, Reason: v.Reason, ActionID: act.ID})
}

// passthrough tunnels bytes to the target unparsed.
func (p *Proxy) passthrough(w http.ResponseWriter, r *http.Request, act *action.Action, t tunnel) {
	start := time.Now()
	d := net.Dialer{Timeout: dialTimeout}
	up, err := d.DialContext(r.Context(), "tcp", t.String())
	if err != nil {
		p.engine.Complete(audit.Completion{ID: act.ID, Status: http.StatusBadGateway, Duration: time.Since(start), Error: err.Error()})
		WriteProblem(w, http.StatusBadGateway, Problem{Error: ErrUpstream, Reason: "cannot reach " + t.String(), ActionID: act.ID})
		return
	}
	conn := p.hijack(w, r)
	if conn == nil {
		up.Close()
		return
	}
	if !p.track(up) {
		p.untrack(conn)
		conn.Close()
		return
	}
	in, out := splice(conn, up)
	p.untrack(conn)
	p.untrack(up)
	p.engine.Complete(audit.Completion{ID: act.ID, Status: http.StatusOK, BytesIn: in, BytesOut: out, Duration: time.Since(start)})
}

// splice copies both ways until either side closes, then closes both.
func splice(agent, upstream net.Conn) (in, out int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		in, _ = io.Copy(upstream, agent)
		closeWrite(upstream)
	}()
	out, _ = io.Copy(agent, upstream)
	closeWrite(agent)
	wg.Wait()
	agent.Close()
	upstream.Close()
	return in, out
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	c.Close()
}

// prefixedConn reads bytes the HTTP server had already buffered first.
type prefixedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *prefixedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// interceptedConn is a TLS connection from an agent, after the handshake.
type interceptedConn struct {
	net.Conn
	tunnel tunnel
}

// connQueue is a net.Listener fed with intercepted connections.
type connQueue struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{} }
