package httpproxy

import (
	"net/http"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy"
)

// identify names the agent behind r with the proxy's Identifier, from the
// accepted connection and Proxy-Authorization: Basic.
func (p *Proxy) identify(r *http.Request) (action.Agent, error) {
	return p.Identify(proxy.RequestConn(r), proxy.BasicCredential(r.Header.Get("Proxy-Authorization")))
}
