package httpproxy

import (
	"net"
	"net/http"
	"strings"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy"
)

// connKey carries the accepted proxy connection in a request's context.
type connKey struct{}

// identify names the agent behind r with the proxy's Identifier.
func (p *Proxy) identify(r *http.Request) (action.Agent, error) {
	conn, _ := r.Context().Value(connKey{}).(net.Conn)
	return p.Identify(conn, proxyCredential(r))
}

// proxyCredential reads Proxy-Authorization: Basic; nil when absent or not
// Basic.
func proxyCredential(r *http.Request) *proxy.Credential {
	auth := r.Header.Get("Proxy-Authorization")
	if auth == "" {
		return nil
	}
	// net/http parses Authorization only; reuse it on a scratch request.
	scratch := &http.Request{Header: http.Header{"Authorization": {auth}}}
	name, password, ok := scratch.BasicAuth()
	if !ok || strings.ContainsAny(name, "\r\n") {
		return nil
	}
	return &proxy.Credential{Name: name, Password: password}
}
