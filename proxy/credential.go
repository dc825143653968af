package proxy

import (
	"context"
	"net"
	"net/http"
	"strings"
)

// connKey carries the accepted connection in a request's context.
type connKey struct{}

// WithConn is an http.Server's ConnContext: it keeps the accepted
// connection, which carries the transport's identity, for RequestConn.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// RequestConn returns the connection WithConn kept for r, or nil.
func RequestConn(r *http.Request) net.Conn {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	return c
}

// BasicCredential reads a "Basic base64(name:password)" header value
// (Authorization or Proxy-Authorization); nil when it is absent, not
// Basic, or names an agent with a line break.
func BasicCredential(value string) *Credential {
	if value == "" {
		return nil
	}
	// net/http parses Authorization only; reuse it on a scratch request.
	scratch := &http.Request{Header: http.Header{"Authorization": {value}}}
	name, password, ok := scratch.BasicAuth()
	if !ok || strings.ContainsAny(name, "\r\n") {
		return nil
	}
	return &Credential{Name: name, Password: password}
}
