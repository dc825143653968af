package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Identity is who uses the dashboard.
type Identity struct {
	// Login is the tailnet login name ("alice@example.com"); "local" for
	// the holder of the local token; empty for a tagged node.
	Login string
	// Tags are a tagged node's tags ("tag:ops").
	Tags []string
	// Node is the tailnet node's name, for the log.
	Node string
	// Local is true for the holder of the local token: the operator who
	// started the gateway, who may decide every approval (as with
	// `ward approve`).
	Local bool
}

// Name is how decisions name the person: the login, or the tags of a
// tagged node.
func (id Identity) Name() string {
	if id.Login != "" {
		return id.Login
	}
	return strings.Join(id.Tags, ",")
}

// In reports whether the identity is on an access list of logins and tags.
func (id Identity) In(list []string) bool {
	for _, p := range list {
		if strings.HasPrefix(p, "tag:") {
			if slices.Contains(id.Tags, p) {
				return true
			}
		} else if id.Login != "" && strings.EqualFold(p, id.Login) {
			return true
		}
	}
	return false
}

// Access is who may use the dashboard on the tailnet.
type Access struct {
	// Viewers are gateway(dashboard_viewers).
	Viewers []string
	// Approvers are each dashboard.approver's approvers, by judge name.
	Approvers map[string][]string
}

// mayView reports whether id may see the dashboard.
func (a Access) mayView(id Identity) bool {
	if id.Local || id.In(a.Viewers) {
		return true
	}
	for _, list := range a.Approvers {
		if id.In(list) {
			return true
		}
	}
	return false
}

// mayDecide reports whether id may decide an approval asked of judge.
// The local operator may decide any; on the tailnet only the approvers of
// that dashboard.approver may.
func (a Access) mayDecide(id Identity, judge string) bool {
	return id.Local || id.In(a.Approvers[judge])
}

const (
	sessionCookie = "ward_dashboard"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// request is an authenticated request: who sent it and the CSRF token
// their pages carry.
type request struct {
	*http.Request
	id   Identity
	csrf string
}

// handlerFunc is a dashboard handler that runs after authentication.
// Errors it returns are rendered as pages or JSON.
type handlerFunc func(w http.ResponseWriter, r *request) error

// viewer authenticates the request and refuses those who may not view.
func (s *Server) viewer(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if err := h(w, req); err != nil {
			s.fail(w, r, err)
		}
	})
}

// changer is viewer for state-changing requests: they must also pass the
// cross-origin checks and carry the CSRF token.
func (s *Server) changer(h handlerFunc) http.Handler {
	return s.viewer(func(w http.ResponseWriter, r *request) error {
		if err := s.cop.Check(r.Request); err != nil {
			return errorf(http.StatusForbidden, "cross-origin request refused")
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		got := r.Header.Get(csrfHeader)
		if got == "" {
			if err := r.ParseForm(); err != nil {
				return errorf(http.StatusBadRequest, "cannot read the form: %v", err)
			}
			got = r.PostForm.Get(csrfField)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(r.csrf)) != 1 {
			return errorf(http.StatusForbidden, "missing or wrong CSRF token: reload the page and try again")
		}
		return h(w, r)
	})
}

// authenticate finds who sent r, or answers it (a refusal, or the
// redirect that turns a token URL into a session) and returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*request, bool) {
	if s.cfg.Peer != nil {
		return s.authenticatePeer(w, r)
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		s.login(w, r, tok)
		return nil, false
	}
	nonce, ok := s.session(r)
	if !ok {
		s.fail(w, r, errorf(http.StatusUnauthorized,
			"this dashboard needs the token ward gateway printed when it started: open the URL it printed"))
		return nil, false
	}
	return &request{Request: r, id: Identity{Login: "local", Local: true}, csrf: s.mac("csrf:session:" + nonce)}, true
}

// authenticatePeer identifies a tailnet peer and checks the access lists.
func (s *Server) authenticatePeer(w http.ResponseWriter, r *http.Request) (*request, bool) {
	c := connOf(r)
	var id Identity
	ok := c != nil
	if ok {
		id, ok = s.cfg.Peer(c)
	}
	if !ok || id.Local {
		s.fail(w, r, errorf(http.StatusForbidden, "this dashboard serves only identified tailnet peers"))
		return nil, false
	}
	if !s.cfg.Access().mayView(id) {
		s.cfg.Logger.Warn("dashboard: access refused", "login", id.Name(), "node", id.Node)
		s.fail(w, r, errorf(http.StatusForbidden,
			"%s may not use this dashboard: list the login or a tag in gateway(dashboard_viewers = [...]) or in a dashboard.approver's approvers", id.Name()))
		return nil, false
	}
	return &request{Request: r, id: id, csrf: s.mac("csrf:peer:" + id.Name() + "\x00" + id.Node)}, true
}

// login checks a token from the URL and, when it is right, sets the
// session cookie and redirects to the same page without the token.
func (s *Server) login(w http.ResponseWriter, r *http.Request, tok string) {
	if r.Method != http.MethodGet || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) != 1 {
		s.cfg.Logger.Warn("dashboard: wrong token", "addr", r.RemoteAddr)
		s.fail(w, r, errorf(http.StatusUnauthorized, "wrong token: open the URL ward gateway printed when it started"))
		return
	}
	nonce := make([]byte, 18)
	if _, err := rand.Read(nonce); err != nil {
		s.fail(w, r, err)
		return
	}
	n := base64.RawURLEncoding.EncodeToString(nonce)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: n + "." + s.mac("session:"+n), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	q := r.URL.Query()
	q.Del("token")
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// session returns the nonce of a valid session cookie.
func (s *Server) session(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	nonce, mac, ok := strings.Cut(c.Value, ".")
	if !ok || nonce == "" || !hmac.Equal([]byte(mac), []byte(s.mac("session:"+nonce))) {
		return "", false
	}
	return nonce, true
}

// mac signs msg with the server's key.
func (s *Server) mac(msg string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
