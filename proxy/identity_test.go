package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/starlark/policy"
)

const agentsPolicy = denyAll + `
agent(name = "bot", password = secrets.env("WARD_TEST_BOT_PW"), tags = ["tag:agent"], caps = {"endpoints": ["api"]})
agent(name = "intern", password = secrets.env("WARD_TEST_INTERN_PW"))
`

// pipeConn is a connection from a local listener, from loopback.
func pipeConn(t *testing.T) net.Conn {
	return fromAddr(t, "127.0.0.1:40000")
}

// fromAddr is a connection from a local listener whose peer is addr.
func fromAddr(t *testing.T, addr string) net.Conn {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return addrConn{Conn: a, remote: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))}
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func TestIdentifyLocalAgents(t *testing.T) {
	t.Setenv("WARD_TEST_BOT_PW", "bot-password")
	t.Setenv("WARD_TEST_INTERN_PW", "intern-password")
	e, _, _ := newEngine(t, agentsPolicy)
	conn := pipeConn(t)
	tests := []struct {
		name    string
		cred    *Credential
		want    string
		wantErr string
	}{
		{name: "name and password", cred: &Credential{Name: "bot", Password: "bot-password"}, want: "bot"},
		{name: "password alone", cred: &Credential{Password: "intern-password"}, want: "intern"},
		{name: "no credential", wantErr: "requires an agent credential"},
		{name: "empty password", cred: &Credential{Name: "bot"}, wantErr: "requires an agent credential"},
		{name: "wrong password", cred: &Credential{Name: "bot", Password: "guess"}, wantErr: "unknown agent or wrong password"},
		{name: "another agent's password", cred: &Credential{Name: "bot", Password: "intern-password"}, wantErr: "wrong password"},
		{name: "unknown agent", cred: &Credential{Name: "eve", Password: "bot-password"}, wantErr: "wrong password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := e.Identify(conn, tt.cred)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUnidentified) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || a.Name != tt.want || a.User != tt.want {
				t.Fatalf("agent = %+v, %v", a, err)
			}
		})
	}
	a, _ := e.Identify(conn, &Credential{Password: "bot-password"})
	if len(a.Tags) != 1 || string(a.Caps["endpoints"][0]) != `"api"` {
		t.Errorf("declared tags and caps not carried: %+v", a)
	}
	if !e.NeedsCredential(conn) {
		t.Error("NeedsCredential = false with declared agents")
	}
}

func TestIdentifyTailnetConnIgnoresCredentials(t *testing.T) {
	t.Setenv("WARD_TEST_BOT_PW", "bot-password")
	t.Setenv("WARD_TEST_INTERN_PW", "intern-password")
	e, _, _ := newEngine(t, agentsPolicy)
	peer := action.Agent{Name: "laptop", User: "alice@example.com", Addr: "100.64.0.2:1234"}
	conn := &IdentifiedConn{Conn: pipeConn(t), Agent: peer}
	for _, cred := range []*Credential{nil, {Name: "bot", Password: "bot-password"}} {
		a, err := e.Identify(conn, cred)
		if err != nil || a.Name != "laptop" {
			t.Errorf("cred %v: agent %+v, %v; want the tailnet peer", cred, a, err)
		}
	}
	if e.NeedsCredential(conn) {
		t.Error("a tailnet connection needs no credential")
	}
	// Through wrappers such as *tls.Conn (anything with NetConn).
	if a, ok := PeerAgent(wrapped{conn}); !ok || a.Name != "laptop" {
		t.Errorf("PeerAgent through a wrapper = %+v, %v", a, ok)
	}
}

type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

func TestIdentifyWithoutAgentsIsLocal(t *testing.T) {
	e, _, _ := newEngine(t, denyAll)
	a, err := e.Identify(pipeConn(t), &Credential{Name: "whoever", Password: "x"})
	if err != nil || a.Name != "local" || a.User != "local" {
		t.Fatalf("agent = %+v, %v", a, err)
	}
}

func TestAgentsMustNotSharePasswords(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ward.star")
	src := denyAll + "\nagent(name = \"a\", password = secrets.env(\"PW_A\"))\nagent(name = \"b\", password = secrets.env(\"PW_B\"))\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(path, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	same := builtins.Resolver{LookupEnv: func(string) (string, bool) { return "same-password", true }}
	_, err = NewSnapshot(context.Background(), p, same)
	if err == nil || !strings.Contains(err.Error(), `agents "a" and "b" have the same password`) || strings.Contains(err.Error(), "same-password") {
		t.Fatalf("err = %v", err)
	}
}

// TestIdentifyTrustsOnlyPrivateChannels: an agent credential counts only
// where it did not cross the network in the clear (loopback or TLS), and
// without declared agents only loopback is "local": a peer elsewhere on
// the network is not this machine.
func TestIdentifyTrustsOnlyPrivateChannels(t *testing.T) {
	t.Setenv("WARD_TEST_BOT_PW", "bot-password")
	t.Setenv("WARD_TEST_INTERN_PW", "intern-password")
	agents, _, _ := newEngine(t, agentsPolicy)
	none, _, _ := newEngine(t, denyAll)
	bot := &Credential{Name: "bot", Password: "bot-password"}
	remote := fromAddr(t, "192.0.2.7:5555")
	tests := []struct {
		name    string
		e       *Engine
		conn    net.Conn
		cred    *Credential
		want    string
		wantErr string
	}{
		{name: "agents, loopback", e: agents, conn: fromAddr(t, "127.0.0.1:1"), cred: bot, want: "bot"},
		{name: "agents, IPv6 loopback", e: agents, conn: fromAddr(t, "[::1]:1"), cred: bot, want: "bot"},
		{name: "agents, remote over TLS", e: agents, conn: tls.Server(remote, &tls.Config{}), cred: bot, want: "bot"},
		{name: "agents, remote in the clear", e: agents, conn: remote, cred: bot, wantErr: "in the clear"},
		{name: "agents, remote, no credential", e: agents, conn: remote, wantErr: "in the clear"},
		{name: "no agents, loopback", e: none, conn: fromAddr(t, "127.0.0.1:1"), want: "local"},
		{name: "no agents, remote", e: none, conn: remote, wantErr: "only loopback"},
		{name: "no agents, remote over TLS", e: none, conn: tls.Server(remote, &tls.Config{}), wantErr: "only loopback"},
		{name: "no agents, no address", e: none, conn: nil, wantErr: "only loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.e.Identify(tt.conn, tt.cred)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUnidentified) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("agent %+v, err = %v, want %q", a, err, tt.wantErr)
				}
				return
			}
			if err != nil || a.Name != tt.want {
				t.Fatalf("agent = %+v, %v; want %s", a, err, tt.want)
			}
		})
	}
}
