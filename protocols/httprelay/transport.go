package httprelay

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"time"
)

// Timeouts of upstream connections.
const (
	DialTimeout      = 10 * time.Second
	HandshakeTimeout = 10 * time.Second
)

// TLS is how ward verifies an upstream and proves itself to it.
type TLS struct {
	Roots *x509.CertPool   // nil: the system roots
	Cert  *tls.Certificate // client certificate; nil: none
}

// Transport is the connection pool of one endpoint in one policy snapshot.
// Requests go over HTTP/2 where the upstream offers it, except upgrade
// requests (WebSocket, SPDY), which need an HTTP/1.1 connection of their
// own.
type Transport struct {
	pooled  *http.Transport
	upgrade *http.Transport
}

// NewTransport returns a transport that trusts cfg.Roots and presents
// cfg.Cert. It never uses the gateway's own proxy settings.
func NewTransport(cfg TLS) *Transport {
	tc := &tls.Config{RootCAs: cfg.Roots, MinVersion: tls.VersionTLS12}
	if cfg.Cert != nil {
		tc.Certificates = []tls.Certificate{*cfg.Cert}
	}
	pooled := newHTTPTransport(tc)
	pooled.ForceAttemptHTTP2 = true
	h1 := tc.Clone()
	h1.NextProtos = []string{"http/1.1"}
	upgrade := newHTTPTransport(h1)
	upgrade.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // never HTTP/2
	upgrade.MaxIdleConnsPerHost = 1
	return &Transport{pooled: pooled, upgrade: upgrade}
}

func newHTTPTransport(tc *tls.Config) *http.Transport {
	d := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   HandshakeTimeout,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// RoundTrip sends r on the pooled transport, or on an HTTP/1.1 connection
// when r asks for a protocol upgrade.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if IsUpgrade(r.Header) {
		return t.upgrade.RoundTrip(r)
	}
	return t.pooled.RoundTrip(r)
}

// CloseIdleConnections closes idle upstream connections.
func (t *Transport) CloseIdleConnections() {
	t.pooled.CloseIdleConnections()
	t.upgrade.CloseIdleConnections()
}

// IsUpgrade reports whether h asks for a protocol upgrade.
func IsUpgrade(h http.Header) bool {
	if h.Get("Upgrade") == "" {
		return false
	}
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// ForwardedHeaders is h without the headers that its Connection header
// names: the relay drops them before forwarding (they are hop-by-hop), so
// a decoder must read these, the headers the upstream will get —
// "Connection: Impersonate-User" must not show a policy an impersonation
// that never reaches the API server. Connection and Upgrade stay: the relay
// still reads the upgrade from them. h itself is never modified.
func ForwardedHeaders(h http.Header) http.Header {
	var drop []string
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			name := http.CanonicalHeaderKey(strings.TrimSpace(tok))
			if _, ok := h[name]; ok && name != "Connection" && name != "Upgrade" {
				drop = append(drop, name)
			}
		}
	}
	if len(drop) == 0 {
		return h
	}
	out := h.Clone()
	for _, name := range drop {
		delete(out, name)
	}
	return out
}

var _ http.RoundTripper = (*Transport)(nil)
