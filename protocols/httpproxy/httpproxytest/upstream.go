// Package httpproxytest provides an HTTPS upstream for tests of the HTTP
// proxy: it records every request it receives and echoes the request's
// headers back in the response body, so that a test can prove what reached
// the upstream and that the injected credential never reaches the agent.
package httpproxytest

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Received is one request as the upstream saw it.
type Received struct {
	Method string
	Target string // request-target as sent
	Host   string
	Header http.Header
	Body   string
}

// Upstream is a recording HTTPS server on 127.0.0.1.
type Upstream struct {
	*httptest.Server
	mu       sync.Mutex
	received []Received
	conns    int
}

// New starts an upstream; it is closed when the test ends.
func New(t testing.TB) *Upstream {
	u := &Upstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(u.serve))
	u.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			u.mu.Lock()
			u.conns++
			u.mu.Unlock()
		}
	}
	u.StartTLS()
	t.Cleanup(u.Close)
	return u
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.received = append(u.received, Received{Method: r.Method, Target: r.RequestURI, Host: r.Host, Header: r.Header.Clone(), Body: string(body)})
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/reflect-header" {
		// Echo the credential in a response header too, as some APIs do in
		// error responses.
		w.Header().Set("X-Seen-Authorization", r.Header.Get("Authorization"))
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "headers": r.Header, "body": string(body)})
}

// Received returns the requests seen so far.
func (u *Upstream) Received() []Received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Received(nil), u.received...)
}

// Conns is how many connections the upstream has accepted.
func (u *Upstream) Conns() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.conns
}

// HostPort is the upstream's "127.0.0.1:PORT".
func (u *Upstream) HostPort() string { return u.Listener.Addr().String() }

// Port is the upstream's port.
func (u *Upstream) Port() int {
	_, p, _ := net.SplitHostPort(u.HostPort())
	n, _ := strconv.Atoi(p)
	return n
}

// WriteCA writes the upstream's certificate as PEM into dir and returns
// the file's path, for a policy's ca = secrets.file(...).
func (u *Upstream) WriteCA(t testing.TB, dir string) string {
	path := filepath.Join(dir, "upstream-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
