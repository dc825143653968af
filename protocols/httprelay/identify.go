package httprelay

import (
	"net"
	"net/http"
	"strings"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy"
)

// connKey carries the accepted connection in a request's context.
type connKey struct{}

// identify names the agent behind r with the gate's Identifier.
func (g *Gate) identify(r *http.Request) (action.Agent, error) {
	conn, _ := r.Context().Value(connKey{}).(net.Conn)
	return g.Identify(conn, credential(r))
}

// credential reads the agent's ward credential from Authorization: Basic
// (name and password) or Bearer (the password alone); nil when there is
// none. Protocols drop the header before forwarding either way.
func credential(r *http.Request) *proxy.Credential {
	if name, password, ok := r.BasicAuth(); ok && !strings.ContainsAny(name, "\r\n") {
		return &proxy.Credential{Name: name, Password: password}
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && token != "" {
		return &proxy.Credential{Password: strings.TrimSpace(token)}
	}
	return nil
}
