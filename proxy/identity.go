package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"

	"github.com/wardproject/ward/protocols/action"
)

// ErrUnidentified is wrapped by every error an Identifier returns: the
// agent could not be named, and nothing it sent may be proxied.
var ErrUnidentified = errors.New("agent not identified")

// Credential is what an agent presented on a local listener to say who it
// is: HTTP Proxy-Authorization Basic gives Name and Password; a database
// login gives Password (Name empty: the password alone names the agent).
type Credential struct {
	Name     string
	Password string
}

// Identifier names the agent behind a connection. Every protocol server
// calls it before it proxies any byte of the connection (HTTP: for each
// request or CONNECT, since the credential travels in each), with the
// connection as accepted from the listener and the credential the agent
// presented, or nil when it presented none. An error wraps ErrUnidentified
// and its text may be shown to the agent.
type Identifier func(conn net.Conn, cred *Credential) (action.Agent, error)

// IdentifiedConn is a connection whose peer the transport has identified
// (the tailnet, by WhoIs) before handing it to a protocol server.
type IdentifiedConn struct {
	net.Conn
	Agent action.Agent
}

// CloseWrite half-closes the connection when the underlying one can.
func (c *IdentifiedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// NetConn returns the underlying connection.
func (c *IdentifiedConn) NetConn() net.Conn { return c.Conn }

// PeerAgent returns the identity the transport established for c (looking
// through wrappers that have a NetConn method, such as *tls.Conn), and
// false for a connection from a local listener.
func PeerAgent(c net.Conn) (action.Agent, bool) {
	for range 8 {
		switch v := c.(type) {
		case *IdentifiedConn:
			return v.Agent, true
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return action.Agent{}, false
		}
	}
	return action.Agent{}, false
}

// NeedsCredential reports whether the agent behind conn must present a
// credential: it came through a local listener and the policy declares
// agents. Protocol servers ask for one (a database password prompt) only
// then.
func (e *Engine) NeedsCredential(conn net.Conn) bool {
	if _, ok := PeerAgent(conn); ok {
		return false
	}
	return len(e.Snapshot().agents) > 0
}

// Identify is the gateway's Identifier. A connection the transport
// identified (the tailnet) is that peer, whatever credential it presents.
// On a local listener, when the policy declares agents, cred must name one
// of them (the name, when given, and the password must match), and it
// counts only if it did not cross the network in the clear: the
// connection is TLS or comes from loopback. When the policy declares none,
// a connection from loopback is "local" and any other is refused: a peer
// elsewhere on the network is not this machine.
func (e *Engine) Identify(conn net.Conn, cred *Credential) (action.Agent, error) {
	if a, ok := PeerAgent(conn); ok {
		a.Proof = proofTailnet
		return a, nil
	}
	addr := ""
	if conn != nil && conn.RemoteAddr() != nil {
		addr = conn.RemoteAddr().String()
	}
	agents := e.Snapshot().agents
	if len(agents) == 0 {
		if !Loopback(conn) {
			return action.Agent{}, fmt.Errorf("%w: only loopback connections are trusted here (%s is not); agents elsewhere connect over the tailnet, or present a declared agent(...)'s credential over TLS", ErrUnidentified, addr)
		}
		a := action.LocalAgent(addr)
		a.Proof = proofLocal
		return a, nil
	}
	if !Private(conn) {
		return action.Agent{}, fmt.Errorf("%w: agent credentials are not accepted in the clear from %s: connect from loopback, over TLS, or over the tailnet", ErrUnidentified, addr)
	}
	if cred == nil || cred.Password == "" {
		return action.Agent{}, fmt.Errorf("%w: this gateway requires an agent credential (HTTP: Proxy-Authorization Basic with the agent's name and password; databases: the agent's password)", ErrUnidentified)
	}
	if a := matchAgent(agents, cred); a != nil {
		return e.identity(a, addr), nil
	}
	e.logger.Warn("agent credential rejected", "claimed", cred.Name, "addr", addr)
	return action.Agent{}, fmt.Errorf("%w: unknown agent or wrong password", ErrUnidentified)
}

// Loopback reports whether conn comes from a loopback address.
func Loopback(conn net.Conn) bool {
	if conn == nil {
		return false
	}
	a, ok := conn.RemoteAddr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// Private reports whether what an agent sends on conn stays private: the
// connection is TLS (looking through wrappers with a NetConn method), or
// it comes from loopback.
func Private(conn net.Conn) bool {
	if Loopback(conn) {
		return true
	}
	for range 8 {
		switch v := conn.(type) {
		case *tls.Conn:
			return true
		case interface{ NetConn() net.Conn }:
			conn = v.NetConn()
		default:
			return false
		}
	}
	return false
}

// localAgent is a declared agent with its resolved password.
type localAgent struct {
	agent    action.Agent
	password []byte

	proofOnce sync.Once // the proof depends only on the engine's key and the agent
	proofVal  string
}

// Proofs of how an agent was identified (action.Agent.Proof); a declared
// agent's is "agent:" and a keyed digest of its name and password.
const (
	proofTailnet = "tailnet"
	proofLocal   = "local"
)

// identity is the agent l, connected from addr.
func (e *Engine) identity(l *localAgent, addr string) action.Agent {
	a := l.agent
	a.Tags, a.Caps = slices.Clone(a.Tags), maps.Clone(a.Caps)
	a.Addr, a.Proof = addr, e.proof(l)
	return a
}

// proof ties an identity to the credential that established it. It is
// keyed with the engine's random key, so it says nothing about the
// password outside this process.
func (e *Engine) proof(l *localAgent) string {
	l.proofOnce.Do(func() {
		m := hmac.New(sha256.New, e.key)
		m.Write([]byte(l.agent.Name))
		m.Write([]byte{0})
		m.Write(l.password)
		l.proofVal = "agent:" + hex.EncodeToString(m.Sum(nil))
	})
	return l.proofVal
}

// reidentify checks an agent identified under an earlier policy against
// snap, the policy deciding its action: connections identify once (a
// CONNECT tunnel, a database session), and a reload that removes an agent,
// changes its password or starts requiring credentials must reach them.
// It returns the agent as snap declares it (current tags and caps), or why
// it is no longer identified.
func (e *Engine) reidentify(snap *Snapshot, a action.Agent) (action.Agent, string) {
	switch {
	case a.Proof == proofTailnet:
		return a, ""
	case len(snap.agents) == 0 && (a.Proof == proofLocal || a.Proof == ""):
		return a, ""
	case len(snap.agents) == 0:
		return a, fmt.Sprintf("agent %s is no longer declared (the policy was reloaded): reconnect", a.Name)
	}
	for _, l := range snap.agents {
		if l.agent.Name == a.Name && hmac.Equal([]byte(e.proof(l)), []byte(a.Proof)) {
			return e.identity(l, a.Addr), ""
		}
	}
	if a.Proof == proofLocal || a.Proof == "" {
		return a, "the policy was reloaded and now requires an agent credential: reconnect with one"
	}
	return a, fmt.Sprintf("agent %s's credential changed or is no longer declared (the policy was reloaded): reconnect", a.Name)
}

// matchAgent compares cred with every agent in constant time, digests of
// equal length, so timing tells neither which agent was close nor how
// long its password is.
func matchAgent(agents []*localAgent, cred *Credential) *localAgent {
	var found *localAgent
	got := sha256.Sum256([]byte(cred.Password))
	for _, a := range agents {
		want := sha256.Sum256(a.password)
		pw := subtle.ConstantTimeCompare(want[:], got[:])
		name := 1
		if cred.Name != "" {
			name = subtle.ConstantTimeCompare([]byte(a.agent.Name), []byte(cred.Name))
		}
		if pw&name == 1 {
			found = a
		}
	}
	return found
}
