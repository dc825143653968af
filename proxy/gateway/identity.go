package gateway

import (
	"context"
	"fmt"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/postgres"
	"github.com/wardproject/ward/proxy"
)

// postgresIdentify is the gateway's identity seam for Postgres endpoints:
// a tailnet connection is its peer; when the policy declares agents, the
// agent is the one whose password the connection presents (asked for in
// cleartext, so only over TLS or loopback); otherwise loopback connections
// are the local agent and others are refused (proxy.Engine.Identify).
func (g *Gateway) postgresIdentify(_ context.Context, c postgres.ConnInfo) (action.Agent, error) {
	if !g.engine.NeedsCredential(c.Conn) {
		return refused(g.engine.Identify(c.Conn, nil))
	}
	if !proxy.Private(c.Conn) {
		return action.Agent{}, fmt.Errorf("%w: this gateway asks for the agent's password; send it over TLS (sslmode=require or verify-full) or from loopback", postgres.ErrAgentRefused)
	}
	pw, err := c.Password()
	if err != nil {
		return action.Agent{}, fmt.Errorf("%w: %v", postgres.ErrAgentRefused, err)
	}
	return refused(g.engine.Identify(c.Conn, &proxy.Credential{Password: pw}))
}

// refused marks an identification error as a refused Postgres agent.
func refused(a action.Agent, err error) (action.Agent, error) {
	if err != nil {
		return action.Agent{}, fmt.Errorf("%w: %v", postgres.ErrAgentRefused, err)
	}
	return a, nil
}
