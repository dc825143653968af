package proxy

import (
	"context"
	"errors"
	"net"
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

// pipeConn is a connection from a local listener.
func pipeConn(t *testing.T) net.Conn {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a
}

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
