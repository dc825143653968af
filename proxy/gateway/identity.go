package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/postgres"
	"github.com/wardproject/ward/proxy"
)

// postgresIdentify is the gateway's identity seam for Postgres endpoints:
// a tailnet connection is its peer; when the policy declares agents, the
// agent is the one whose password the connection presents (asked for in
// cleartext, so only over TLS or loopback); otherwise loopback connections
// are the local agent and others are refused.
func (g *Gateway) postgresIdentify(ctx context.Context, c postgres.ConnInfo) (action.Agent, error) {
	if _, ok := proxy.PeerAgent(c.Conn); ok || !g.engine.NeedsCredential(c.Conn) {
		if !ok {
			return postgres.LocalIdentity(ctx, c)
		}
		return g.engine.Identify(c.Conn, nil)
	}
	if !private(c.Conn) {
		return action.Agent{}, fmt.Errorf("%w: this gateway asks for the agent's password; send it over TLS (sslmode=require or verify-full) or from loopback", postgres.ErrAgentRefused)
	}
	pw, err := c.Password()
	if err != nil {
		return action.Agent{}, fmt.Errorf("%w: %v", postgres.ErrAgentRefused, err)
	}
	a, err := g.engine.Identify(c.Conn, &proxy.Credential{Password: pw})
	if err != nil {
		return action.Agent{}, fmt.Errorf("%w: %v", postgres.ErrAgentRefused, err)
	}
	return a, nil
}

// private reports whether a password sent on conn stays private: the
// connection is TLS, or it comes from loopback.
func private(conn net.Conn) bool {
	if _, ok := conn.(*tls.Conn); ok {
		return true
	}
	a, ok := conn.RemoteAddr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}
