package proxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
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
	p := loadPolicy(t, denyAll+"\nagent(name = \"a\", password = secrets.env(\"PW_A\"))\nagent(name = \"b\", password = secrets.env(\"PW_B\"))\n")
	same := builtins.Resolver{LookupEnv: func(string) (string, bool) { return "same-password", true }}
	_, err := NewSnapshot(context.Background(), p, same)
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

// reloadAs publishes src as a new snapshot of e, with env for its secrets.
func reloadAs(t *testing.T, e *Engine, src string, env map[string]string) *Snapshot {
	t.Helper()
	r := builtins.Resolver{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	snap, err := NewSnapshot(context.Background(), loadPolicy(t, src), r)
	if err != nil {
		t.Fatal(err)
	}
	e.Publish(snap)
	return snap
}

// TestIdentityIsCheckedAgainOnEveryAction: connections identify their agent
// once (a CONNECT tunnel, a database session), so a reload that removes an
// agent, changes its password, or starts requiring credentials must apply
// to connections already open, or a revoked credential keeps working.
func TestIdentityIsCheckedAgainOnEveryAction(t *testing.T) {
	const allowAll = `http(name = "api", hosts = ["a.example"], on_request = lambda r: allow())`
	const agents = allowAll + `
agent(name = "bot", password = secrets.env("BOT_PW"), tags = ["tag:old"])
agent(name = "intern", password = secrets.env("INTERN_PW"))
`
	pws := map[string]string{"BOT_PW": "bot-password", "INTERN_PW": "intern-password"}
	tests := []struct {
		name   string
		before string // the policy the agent identified under
		cred   *Credential
		peer   bool // a tailnet connection
		after  string
		env    map[string]string
		wantOK bool
	}{
		{name: "unchanged agent", before: agents, cred: &Credential{Name: "bot", Password: "bot-password"},
			after: agents, env: pws, wantOK: true},
		{name: "password changed", before: agents, cred: &Credential{Name: "bot", Password: "bot-password"},
			after: agents, env: map[string]string{"BOT_PW": "rotated-password", "INTERN_PW": "intern-password"}},
		{name: "agent removed", before: agents, cred: &Credential{Password: "intern-password"},
			after: strings.Replace(agents, `agent(name = "intern"`, `# agent(name = "intern"`, 1), env: pws},
		{name: "agents no longer declared", before: agents, cred: &Credential{Name: "bot", Password: "bot-password"},
			after: allowAll},
		{name: "local, then agents declared", before: allowAll, after: agents, env: pws},
		{name: "local, unchanged", before: allowAll, after: allowAll, wantOK: true},
		{name: "tailnet peer, agents declared", before: allowAll, peer: true, after: agents, env: pws, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BOT_PW", "bot-password")
			t.Setenv("INTERN_PW", "intern-password")
			e, _, _ := newEngine(t, tt.before)
			conn := pipeConn(t)
			if tt.peer {
				conn = &IdentifiedConn{Conn: conn, Agent: action.Agent{Name: "laptop", User: "alice@example.com"}}
			}
			agent, err := e.Identify(conn, tt.cred)
			if err != nil {
				t.Fatal(err)
			}
			snap := reloadAs(t, e, tt.after, tt.env)
			act := e.NewAction("http", "api", agent)
			d, err := e.Decide(context.Background(), snap, snap.Policy.Endpoint("api"), "on_request", act)
			if err != nil {
				t.Fatal(err)
			}
			if d.Forward != tt.wantOK || d.Verdict.Allowed != tt.wantOK {
				t.Fatalf("decision %+v, want forward %v", d, tt.wantOK)
			}
			if !tt.wantOK && (!strings.Contains(d.Verdict.Reason, "reconnect") || d.Verdict.DecidedBy != "gateway" || d.Recorded != "deny") {
				t.Errorf("stale identity decided as %+v", d)
			}
		})
	}
}

// TestStaleIdentityIsDeniedInObserveMode: observe mode lets denied actions
// through, but an agent that is no longer identified is not let through.
func TestStaleIdentityIsDeniedInObserveMode(t *testing.T) {
	const observe = "gateway(mode = \"observe\")\n" + denyAll
	e, _, _ := newEngine(t, observe)
	agent, err := e.Identify(pipeConn(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := reloadAs(t, e, observe+"\nagent(name = \"bot\", password = secrets.env(\"BOT_PW\"))\n", map[string]string{"BOT_PW": "bot-password"})
	d, err := e.Decide(context.Background(), snap, snap.Policy.Endpoint("api"), "on_request", e.NewAction("http", "api", agent))
	if err != nil || d.Forward {
		t.Fatalf("decision %+v, %v; want denied", d, err)
	}
}

// TestReloadRefreshesDeclaredTags: an agent that is still valid after a
// reload is seen with its current tags and caps.
func TestReloadRefreshesDeclaredTags(t *testing.T) {
	const src = `http(name = "api", hosts = ["a.example"], on_request = lambda r: allow(",".join(r.agent.tags)))
agent(name = "bot", password = secrets.env("BOT_PW"), tags = ["TAGS"])
`
	t.Setenv("BOT_PW", "bot-password")
	e, _, _ := newEngine(t, strings.Replace(src, "TAGS", "tag:old", 1))
	agent, err := e.Identify(pipeConn(t), &Credential{Password: "bot-password"})
	if err != nil {
		t.Fatal(err)
	}
	snap := reloadAs(t, e, strings.Replace(src, "TAGS", "tag:new", 1), map[string]string{"BOT_PW": "bot-password"})
	d, err := e.Decide(context.Background(), snap, snap.Policy.Endpoint("api"), "on_request", e.NewAction("http", "api", agent))
	if err != nil || d.Verdict.Reason != "tag:new" {
		t.Fatalf("decision %+v, %v; want the reloaded tags", d, err)
	}
}

// TestProofIsNeverRecorded: what ties an action to its credential stays
// in memory.
func TestProofIsNeverRecorded(t *testing.T) {
	t.Setenv("WARD_TEST_BOT_PW", "bot-password")
	t.Setenv("WARD_TEST_INTERN_PW", "intern-password")
	e, _, _ := newEngine(t, agentsPolicy)
	agent, err := e.Identify(pipeConn(t), &Credential{Password: "bot-password"})
	if err != nil {
		t.Fatal(err)
	}
	if agent.Proof == "" {
		t.Fatal("a declared agent has no proof")
	}
	js, _ := json.Marshal(agent)
	if strings.Contains(string(js), agent.Proof) || strings.Contains(strings.ToLower(string(js)), "proof") {
		t.Errorf("agent JSON %s carries the proof", js)
	}
}

// TestAgentPasswordMustNotBeACredentialTheGatewayUses: an agent holds its
// password, so a password that is also an injected credential (or any
// other secret of the policy) would hand the agent that credential.
func TestAgentPasswordMustNotBeACredentialTheGatewayUses(t *testing.T) {
	p := loadPolicy(t, `http(name = "api", hosts = ["a.example"], inject = bearer(secrets.env("API_TOKEN")), on_request = lambda r: allow())
agent(name = "bot", password = secrets.env("BOT_PW"))
`)
	same := builtins.Resolver{LookupEnv: func(string) (string, bool) { return "one-value-for-both", true }}
	_, err := NewSnapshot(context.Background(), p, same)
	if err == nil || !strings.Contains(err.Error(), `agent "bot"'s password is also <secret env:API_TOKEN>`) || strings.Contains(err.Error(), "one-value") {
		t.Fatalf("err = %v", err)
	}
}
