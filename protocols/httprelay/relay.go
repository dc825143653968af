package httprelay

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
)

// Exchange is one allowed request on its way upstream: where it goes, with
// which credential, and how failures reach the agent.
type Exchange struct {
	ID       string // the action's ID
	Endpoint string // the endpoint's name, for logs
	// Upstream is scheme://host[:port] and an optional path prefix that the
	// request's own path is appended to.
	Upstream *url.URL
	// Host is the Host header sent upstream; empty means Upstream.Host.
	Host      string
	Transport http.RoundTripper
	// Rewrite adjusts the outgoing request after the relay has pointed it
	// upstream: it injects the credential and removes what must not go
	// further. It may be nil.
	Rewrite func(out *http.Request)
	// Secrets are masked out of response headers and bodies (upgraded
	// streams excepted).
	Secrets [][]byte
	// Fail writes an error of ward's own (status and reason) in the
	// protocol's shape.
	Fail func(w http.ResponseWriter, status int, reason string)
}

// Relay forwards allowed requests and records their outcome.
type Relay struct {
	engine *proxy.Engine
	logger *slog.Logger
	rp     *httputil.ReverseProxy
}

type exchangeKey struct{}

// exchange is an Exchange in flight.
type exchange struct {
	*Exchange
	status   int
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
	err      error
}

// New returns a relay that records completions with engine.
func New(engine *proxy.Engine, logger *slog.Logger) *Relay {
	r := &Relay{engine: engine, logger: logger}
	r.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      roundTripper{},
		ModifyResponse: modifyResponse,
		ErrorHandler:   r.errorHandler,
		BufferPool:     newBufferPool(),
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return r
}

// Forward sends r upstream as ex says, relays the response (streamed as it
// arrives; an upgraded connection is passed through both ways), and records
// the outcome.
func (rl *Relay) Forward(w http.ResponseWriter, r *http.Request, ex *Exchange) {
	start := time.Now()
	x := &exchange{Exchange: ex}
	ex.Secrets = needles(ex.Secrets)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countingBody{ReadCloser: r.Body, n: &x.bytesIn}
	}
	ctx := context.WithValue(r.Context(), exchangeKey{}, x)
	rl.rp.ServeHTTP(w, r.WithContext(ctx))
	c := audit.Completion{ID: ex.ID, Status: x.status, BytesIn: x.bytesIn.Load(), BytesOut: x.bytesOut.Load(), Duration: time.Since(start)}
	if x.err != nil {
		c.Error = x.err.Error()
	}
	rl.engine.Complete(c)
}

func rewrite(pr *httputil.ProxyRequest) {
	x := pr.In.Context().Value(exchangeKey{}).(*exchange)
	up := x.Upstream
	pr.Out.URL.Scheme = up.Scheme
	pr.Out.URL.Host = up.Host
	if up.Path != "" {
		rawIn := pr.Out.URL.RawPath
		pr.Out.URL.Path = up.Path + pr.Out.URL.Path
		if rawIn != "" || up.RawPath != "" {
			pr.Out.URL.RawPath = up.EscapedPath() + pr.In.URL.EscapedPath()
		}
	}
	// Request trailers arrive after the body, so no hook saw them; some
	// servers merge them into the headers. They stay here.
	pr.Out.Trailer = nil
	pr.Out.Host = x.Host
	if pr.Out.Host == "" {
		pr.Out.Host = up.Host
	}
	if x.Rewrite != nil {
		x.Rewrite(pr.Out)
	}
	if len(x.Secrets) > 0 {
		// Ask for an identity body (the transport decompresses if the
		// upstream compresses anyway) so the scrubber can read it.
		pr.Out.Header.Del("Accept-Encoding")
	}
}

func modifyResponse(resp *http.Response) error {
	x := resp.Request.Context().Value(exchangeKey{}).(*exchange)
	x.status = resp.StatusCode
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return nil // the upgraded stream is relayed as is
	}
	if len(x.Secrets) > 0 {
		maskHeader(resp.Header, x.Secrets)
		resp.Body = &trailerMask{ReadCloser: proxy.NewScrubber(resp.Body, x.Secrets), resp: resp, secrets: x.Secrets}
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &x.bytesOut}
	return nil
}

// maskHeader masks secrets in every value of h.
func maskHeader(h http.Header, secrets [][]byte) {
	for k, vals := range h {
		for i, v := range vals {
			b := []byte(v)
			proxy.Mask(b, secrets)
			h[k][i] = string(b)
		}
	}
}

// trailerMask masks secrets in a response's trailers, which the transport
// fills in when the body ends and the reverse proxy copies once it is
// closed.
type trailerMask struct {
	io.ReadCloser
	resp    *http.Response
	secrets [][]byte
}

func (t *trailerMask) Close() error {
	err := t.ReadCloser.Close()
	maskHeader(t.resp.Trailer, t.secrets)
	return err
}

func (rl *Relay) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := r.Context().Value(exchangeKey{}).(*exchange)
	x.err = err
	if errors.Is(err, context.Canceled) {
		x.status = 499 // the agent went away
		return
	}
	x.status = http.StatusBadGateway
	rl.logger.Warn("upstream request failed", "action", x.ID, "endpoint", x.Endpoint, "host", x.Upstream.Host, "error", err)
	x.Fail(w, http.StatusBadGateway, UpstreamReason(err))
}

// needles drops secrets too short to mask without mangling responses
// (an empty password, say); the Scrubber ignores them too.
func needles(secrets [][]byte) [][]byte {
	var out [][]byte
	for _, s := range secrets {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	return out
}

// UpstreamReason describes a transport error without internal detail.
func UpstreamReason(err error) string {
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

// roundTripper sends a request through its exchange's transport.
type roundTripper struct{}

func (roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	x := r.Context().Value(exchangeKey{}).(*exchange)
	return x.Transport.RoundTrip(r)
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

// Refuse answers an allowed request that cannot be forwarded after all (a
// credential that is no longer available: a Vault lease that ended) with
// ex.Fail, and records the outcome. Nothing goes upstream.
func (rl *Relay) Refuse(w http.ResponseWriter, ex *Exchange, status int, reason string) {
	rl.logger.Warn("allowed request not forwarded", "action", ex.ID, "endpoint", ex.Endpoint, "reason", reason)
	ex.Fail(w, status, reason)
	rl.engine.Complete(audit.Completion{ID: ex.ID, Status: status, Error: reason})
}
