package httpproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// forwarder sends allowed requests upstream with the endpoint's credential
// and relays the response, scrubbing the credential out of it.
type forwarder struct {
	engine *proxy.Engine
	logger *slog.Logger
	rp     *httputil.ReverseProxy
}

// upstreams is the per-snapshot state: one transport per endpoint.
type upstreams struct {
	transports map[*policy.Endpoint]*http.Transport
}

// Close drops the idle upstream connections of a retired snapshot.
func (u *upstreams) Close() error {
	for _, t := range u.transports {
		t.CloseIdleConnections()
	}
	return nil
}

// forwardKey carries a request's forwarding details through the
// ReverseProxy callbacks.
type forwardKey struct{}

type forwarding struct {
	id        string
	in        *Input
	ep        *policy.Endpoint
	snap      *proxy.Snapshot
	transport *http.Transport
	needles   [][]byte
	secret    []byte // the credential injected, as it was when forwarding began
	status    int
	bytesIn   atomic.Int64
	bytesOut  atomic.Int64
	err       error
}

func newForwarder(engine *proxy.Engine, logger *slog.Logger) *forwarder {
	f := &forwarder{engine: engine, logger: logger}
	f.rp = &httputil.ReverseProxy{
		Rewrite:        f.rewrite,
		Transport:      roundTripper{},
		ModifyResponse: f.modifyResponse,
		ErrorHandler:   f.errorHandler,
		BufferPool:     newBufferPool(),
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return f
}

// Prepare builds the upstream transports of snap's http endpoints. The
// gateway calls it before publishing a snapshot, so that a bad CA fails the
// start or the reload rather than a request.
func Prepare(snap *proxy.Snapshot) error {
	_, err := upstreamsOf(snap)
	return err
}

func upstreamsOf(snap *proxy.Snapshot) (*upstreams, error) {
	v, err := snap.State("http", func() (any, error) { return buildUpstreams(snap) })
	if err != nil {
		return nil, err
	}
	return v.(*upstreams), nil
}

func buildUpstreams(snap *proxy.Snapshot) (*upstreams, error) {
	u := &upstreams{transports: make(map[*policy.Endpoint]*http.Transport)}
	for _, ep := range snap.Policy.Endpoints {
		if ep.Protocol != "http" {
			continue
		}
		var roots *x509.CertPool
		if ep.CA != nil {
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(snap.Secret(ep.CA)) {
				return nil, fmt.Errorf("endpoint %s: ca %s holds no PEM certificate", ep.Name, ep.CA)
			}
		}
		u.transports[ep] = newTransport(roots)
	}
	return u, nil
}

func newTransport(roots *x509.CertPool) *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // never through the gateway's own proxy settings
		DialContext:           d.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   handshakeTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// serve forwards r, which the policy allowed, and records the outcome.
func (f *forwarder) serve(w http.ResponseWriter, r *http.Request, snap *proxy.Snapshot, ep *policy.Endpoint, in *Input, id string) {
	start := time.Now()
	ups, err := upstreamsOf(snap)
	if err != nil {
		WriteProblem(w, http.StatusBadGateway, Problem{Error: ErrGateway, Reason: err.Error(), ActionID: id})
		return
	}
	fw := &forwarding{id: id, in: in, ep: ep, snap: snap, transport: ups.transports[ep]}
	if ep.Inject != nil {
		secret := snap.Secret(ep.Inject.Secret)
		if len(secret) == 0 {
			// A Vault lease that ended and could not be renewed: fail closed.
			reason := "the credential of endpoint " + ep.Name + " is unavailable (its Vault lease ended)"
			WriteProblem(w, http.StatusBadGateway, Problem{Error: ErrGateway, Reason: reason, ActionID: id})
			f.engine.Complete(audit.Completion{ID: id, Status: http.StatusBadGateway, Error: reason, Duration: time.Since(start)})
			return
		}
		fw.secret, fw.needles = secret, injectedForms(ep, secret)
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countingBody{ReadCloser: r.Body, n: &fw.bytesIn}
	}
	ctx := context.WithValue(r.Context(), forwardKey{}, fw)
	f.rp.ServeHTTP(w, r.WithContext(ctx))
	c := audit.Completion{ID: id, Status: fw.status, BytesIn: fw.bytesIn.Load(), BytesOut: fw.bytesOut.Load(), Duration: time.Since(start)}
	if fw.err != nil {
		c.Error = fw.err.Error()
	}
	f.engine.Complete(c)
}

// injectedForms are the byte strings that reveal the endpoint's credential.
func injectedForms(ep *policy.Endpoint, secret []byte) [][]byte {
	forms := [][]byte{secret}
	if ep.Inject.Kind == "basic" {
		forms = append(forms, []byte(base64.StdEncoding.EncodeToString([]byte(ep.Inject.User+":"+string(secret)))))
	}
	return forms
}

func (f *forwarder) rewrite(pr *httputil.ProxyRequest) {
	fw := pr.In.Context().Value(forwardKey{}).(*forwarding)
	pr.Out.URL.Scheme = fw.in.Scheme
	pr.Out.URL.Host = net.JoinHostPort(fw.in.Host, strconv.Itoa(fw.in.Port))
	pr.Out.Host = authority(fw.in.Scheme, fw.in.Host, fw.in.Port)
	if ep := fw.ep; ep.Inject != nil {
		ep.Inject.Apply(pr.Out.Header, fw.secret)
		// Ask for an identity body (the transport decompresses if the
		// upstream compresses anyway) so the scrubber can read it.
		pr.Out.Header.Del("Accept-Encoding")
	}
}

func (f *forwarder) modifyResponse(resp *http.Response) error {
	fw := resp.Request.Context().Value(forwardKey{}).(*forwarding)
	fw.status = resp.StatusCode
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return nil // the upgraded stream is relayed as is
	}
	if len(fw.needles) > 0 {
		for k, vals := range resp.Header {
			for i, v := range vals {
				b := []byte(v)
				proxy.Mask(b, fw.needles)
				resp.Header[k][i] = string(b)
			}
		}
		resp.Body = proxy.NewScrubber(resp.Body, fw.needles)
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &fw.bytesOut}
	return nil
}

func (f *forwarder) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	fw := r.Context().Value(forwardKey{}).(*forwarding)
	fw.err = err
	if errors.Is(err, context.Canceled) {
		fw.status = 499 // the agent went away
		return
	}
	fw.status = http.StatusBadGateway
	f.logger.Warn("upstream request failed", "action", fw.id, "endpoint", fw.ep.Name, "host", fw.in.Host, "error", err)
	WriteProblem(w, http.StatusBadGateway, Problem{Error: ErrUpstream, Reason: upstreamReason(err), ActionID: fw.id})
}

// upstreamReason describes a transport error without internal detail.
func upstreamReason(err error) string {
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &certErr):
		return "the upstream's TLS certificate is not trusted"
	case errors.Is(err, context.DeadlineExceeded):
		return "the upstream timed out"
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) && netErr.Op == "dial" {
		return "cannot connect to the upstream"
	}
	return "the upstream connection failed"
}

// roundTripper sends a request through its endpoint's transport.
type roundTripper struct{}

func (roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	fw := r.Context().Value(forwardKey{}).(*forwarding)
	return fw.transport.RoundTrip(r)
}

// countingBody counts the bytes read through it.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }
