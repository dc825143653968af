package httprelay

import (
	"net/http"
	"strings"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy"
)

// identify names the agent behind r with the gate's Identifier.
func (g *Gate) identify(r *http.Request) (action.Agent, error) {
	return g.Identify(proxy.RequestConn(r), credential(r))
}

// credential reads the agent's ward credential from Authorization: Basic
// (name and password) or Bearer (the password alone); nil when there is
// none. Protocols drop the header before forwarding either way.
func credential(r *http.Request) *proxy.Credential {
	auth := r.Header.Get("Authorization")
	if c := proxy.BasicCredential(auth); c != nil {
		return c
	}
	if token, ok := strings.CutPrefix(auth, "Bearer "); ok && strings.TrimSpace(token) != "" {
		return &proxy.Credential{Password: strings.TrimSpace(token)}
	}
	return nil
}
