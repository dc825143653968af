// Package vaulttest is a local server speaking the parts of Vault's HTTP
// API that ward uses — token auth and AppRole login, KV v1 and v2 mounts
// with their detection endpoint, and a dynamic-secret engine whose leases
// can be renewed and revoked — for tests that drive the real
// github.com/hashicorp/vault/api client against it. No Vault or OpenBao
// server can be installed here.
package vaulttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server is a fake Vault on 127.0.0.1.
type Server struct {
	*httptest.Server
	// Token is the token the server accepts.
	Token string

	mu       sync.Mutex
	kv       map[string]map[string]map[string]any // mount → path → fields
	versions map[string]int                       // mount → 1 or 2
	// LeaseTTL is the lease of dynamic credentials in seconds; MaxTTL caps
	// renewals.
	LeaseTTL, MaxTTL int
	leases           map[string]*Lease
	serial           int
	down             bool
	approle          [2]string
	Renewals, Reads  int
	// Creds, when set, chooses the username and password of the n-th
	// dynamic lease (say, a real database role made by the test).
	Creds func(n int) (user, password string)

	hmu  sync.Mutex
	hold chan struct{} // while set, reads of dynamic credentials wait for it to close
	held chan struct{} // receives when a read starts waiting
}

// HoldCreds makes the next reads of dynamic credentials wait until
// release is called; held receives once a read is waiting.
func (s *Server) HoldCreds() (held <-chan struct{}, release func()) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	hold, h := make(chan struct{}), make(chan struct{}, 1)
	s.hold, s.held = hold, h
	return h, func() {
		s.hmu.Lock()
		if s.hold == hold {
			s.hold = nil
		}
		s.hmu.Unlock()
		close(hold)
	}
}

// Lease is one dynamic-secret lease.
type Lease struct {
	ID       string
	Username string
	Password string
	Revoked  bool
	Renewals int
	total    int
}

// New starts a fake Vault accepting token; it stops when the test ends.
func New(t testing.TB, token string) *Server {
	s := &Server{Token: token, kv: map[string]map[string]map[string]any{}, versions: map[string]int{},
		LeaseTTL: 3600, MaxTTL: 86400, leases: map[string]*Lease{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Mount creates a KV mount ("kv/") of version 1 or 2.
func (s *Server) Mount(mount string, version int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kv[mount], s.versions[mount] = map[string]map[string]any{}, version
}

// Put writes a KV secret at mount+path.
func (s *Server) Put(mount, path string, fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kv[mount][path] = fields
}

// AppRole enables AppRole login with these credentials.
func (s *Server) AppRole(roleID, secretID string) {
	s.mu.Lock()
	s.approle = [2]string{roleID, secretID}
	s.mu.Unlock()
}

// SetDown makes every request fail with 503 (Vault sealed or gone).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// Leases returns the dynamic leases issued so far.
func (s *Server) Leases() []Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Lease
	for i := 1; i <= s.serial; i++ {
		if l, ok := s.leases[fmt.Sprintf("database/creds/ro/%d", i)]; ok {
			out = append(out, *l)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func errorsJSON(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"errors": []string{msg}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1/database/creds/") {
		s.hmu.Lock()
		hold, held := s.hold, s.held
		s.hmu.Unlock()
		if hold != nil {
			select {
			case held <- struct{}{}:
			default:
			}
			<-hold
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		errorsJSON(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	var body map[string]any
	if r.Body != nil {
		data, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(data, &body)
	}
	if path == "auth/approle/login" && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		if s.approle[0] == "" || body["role_id"] != s.approle[0] || body["secret_id"] != s.approle[1] {
			errorsJSON(w, http.StatusBadRequest, "invalid role or secret ID")
			return
		}
		writeJSON(w, 200, map[string]any{"auth": map[string]any{"client_token": s.Token, "lease_duration": 3600, "renewable": true}})
		return
	}
	if r.Header.Get("X-Vault-Token") != s.Token {
		errorsJSON(w, http.StatusForbidden, "permission denied")
		return
	}
	switch {
	case strings.HasPrefix(path, "sys/internal/ui/mounts/"):
		s.mountInfo(w, strings.TrimPrefix(path, "sys/internal/ui/mounts/"))
	case path == "sys/leases/renew":
		s.renew(w, body)
	case path == "sys/leases/revoke":
		s.revoke(w, body)
	case path == "auth/token/renew-self":
		writeJSON(w, 200, map[string]any{"auth": map[string]any{"client_token": s.Token, "lease_duration": 3600, "renewable": true}})
	case strings.HasPrefix(path, "database/creds/") && r.Method == http.MethodGet:
		s.creds(w)
	case r.Method == http.MethodGet:
		s.readKV(w, path)
	default:
		errorsJSON(w, http.StatusNotFound, "no handler for route "+path)
	}
}

func (s *Server) mountInfo(w http.ResponseWriter, path string) {
	for mount, v := range s.versions {
		if strings.HasPrefix(path, mount) {
			writeJSON(w, 200, map[string]any{"data": map[string]any{"path": mount, "type": "kv",
				"options": map[string]any{"version": fmt.Sprint(v)}}})
			return
		}
	}
	if strings.HasPrefix(path, "database/") {
		writeJSON(w, 200, map[string]any{"data": map[string]any{"path": "database/", "type": "database", "options": nil}})
		return
	}
	errorsJSON(w, http.StatusBadRequest, "no mount for "+path)
}

func (s *Server) readKV(w http.ResponseWriter, path string) {
	s.Reads++
	for mount, v := range s.versions {
		rest, ok := strings.CutPrefix(path, mount)
		if !ok {
			continue
		}
		if v == 2 {
			rest, ok = strings.CutPrefix(rest, "data/")
			if !ok {
				break
			}
		}
		fields, ok := s.kv[mount][rest]
		if !ok {
			break
		}
		if v == 2 {
			writeJSON(w, 200, map[string]any{"request_id": "r", "lease_id": "", "lease_duration": 0, "renewable": false,
				"data": map[string]any{"data": fields, "metadata": map[string]any{"version": 1}}})
		} else {
			writeJSON(w, 200, map[string]any{"request_id": "r", "lease_id": "", "lease_duration": 2764800, "renewable": false, "data": fields})
		}
		return
	}
	errorsJSON(w, http.StatusNotFound, "")
}

func (s *Server) creds(w http.ResponseWriter) {
	s.serial++
	l := &Lease{ID: fmt.Sprintf("database/creds/ro/%d", s.serial), Username: fmt.Sprintf("v-ro-%d", s.serial),
		Password: fmt.Sprintf("dyn-canary-password-%d", s.serial), total: s.LeaseTTL}
	if s.Creds != nil {
		l.Username, l.Password = s.Creds(s.serial)
	}
	s.leases[l.ID] = l
	writeJSON(w, 200, map[string]any{"lease_id": l.ID, "lease_duration": s.LeaseTTL, "renewable": true,
		"data": map[string]any{"username": l.Username, "password": l.Password}})
}

func (s *Server) renew(w http.ResponseWriter, body map[string]any) {
	id, _ := body["lease_id"].(string)
	l, ok := s.leases[id]
	if !ok || l.Revoked {
		errorsJSON(w, http.StatusBadRequest, "lease not found or lease is not renewable")
		return
	}
	s.Renewals++
	l.Renewals++
	ttl := min(s.LeaseTTL, s.MaxTTL-l.total)
	l.total += ttl
	writeJSON(w, 200, map[string]any{"lease_id": id, "lease_duration": ttl, "renewable": true})
}

func (s *Server) revoke(w http.ResponseWriter, body map[string]any) {
	id, _ := body["lease_id"].(string)
	if l, ok := s.leases[id]; ok {
		l.Revoked = true
	}
	w.WriteHeader(http.StatusNoContent)
}
