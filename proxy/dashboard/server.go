// Package dashboard serves ward's web dashboard: a live feed of the
// actions the gateway decides (server-sent events over the audit store),
// each action's page with its facts, judge details, timings and a fixture
// download, the pending approvals with Approve and Deny, and the status of
// the policy being served.
//
// Nobody gets in anonymously. Locally the gateway prints a URL carrying a
// random token; opening it sets a session cookie. On the tailnet (when
// Config.Peer is set) every connection is identified by WhoIs and only the
// logins and tags of gateway(dashboard_viewers) and of the approvers of a
// dashboard.approver get in; the token is not accepted there. Every
// state-changing request is a POST that must carry the session's CSRF token
// and pass Go's cross-origin checks (Sec-Fetch-Site / Origin).
//
// The front end is embedded: html/template pages and one small script.
package dashboard

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wardproject/ward/proxy/audit"
)

// Store is where the dashboard reads actions: the gateway's audit store.
type Store interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Record, error)
	Get(ctx context.Context, id string) (audit.Record, error)
}

// Config wires a dashboard to the gateway.
type Config struct {
	Store Store
	// Approvals is the approval queue; nil shows none.
	Approvals Approvals
	// Status describes the policy being served and the last reload.
	Status func() Status
	// Access lists who may use the dashboard on the tailnet, from the
	// policy being served.
	Access func() Access
	// Token is the secret of local mode: the URL the gateway prints
	// carries it. It must be at least 16 bytes. Ignored when Peer is set.
	Token string
	// Peer identifies the tailnet peer behind a connection. When set, the
	// dashboard is in tailnet mode: a connection it cannot identify is
	// refused and the token is not accepted.
	Peer func(net.Conn) (Identity, bool)
	// Mask removes secret values from everything the dashboard sends, as
	// a last line of defence (the audit store should hold none); nil
	// masks nothing.
	Mask func(string) string
	// Logger receives the dashboard's log; default slog.Default().
	Logger *slog.Logger
	// Poll is how often the live feed looks for new actions and approvals
	// while someone watches; default 100ms.
	Poll time.Duration
}

// Server is a dashboard. Serve it with Serve, stop it with Shutdown.
type Server struct {
	cfg     Config
	key     []byte // signs session cookies and CSRF tokens; fresh per start
	pages   *pages
	hub     *hub
	handler http.Handler
	cop     *http.CrossOriginProtection

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{} // closed by Shutdown: ends event streams
}

// MinTokenLen is the shortest local token New accepts.
const MinTokenLen = 16

// New returns a dashboard over cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Status == nil || cfg.Access == nil {
		return nil, errors.New("dashboard: Store, Status and Access are required")
	}
	if cfg.Peer == nil && len(cfg.Token) < MinTokenLen {
		return nil, fmt.Errorf("dashboard: local mode needs a token of at least %d bytes", MinTokenLen)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, key: make([]byte, 32), pages: pg, cop: http.NewCrossOriginProtection(), done: make(chan struct{})}
	if _, err := rand.Read(s.key); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	s.hub = newHub(cfg.Store, cfg.Poll, cfg.Logger, s.done)
	if cfg.Approvals != nil {
		s.hub.watch(s.watchApprovals())
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves the dashboard. Requests must carry the connection in
// their context (Serve does that) for tailnet identification.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the dashboard on ln until Shutdown, and closes ln.
func (s *Server) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       withConn,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	select {
	case <-s.done: // shut down before it started serving
		s.mu.Unlock()
		return ln.Close()
	default:
	}
	s.srv = srv
	s.mu.Unlock()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown ends the event streams and stops serving, waiting up to ctx
// for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// mask applies Config.Mask.
func (s *Server) mask(b []byte) []byte {
	if s.cfg.Mask == nil {
		return b
	}
	return []byte(s.cfg.Mask(string(b)))
}

// Poke makes open dashboards look for new actions and approvals now,
// rather than at the next poll.
func (s *Server) Poke() { s.hub.poke() }

// routes maps the dashboard's paths. Every route but the static assets
// needs an identity; POST routes also need the CSRF token.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles()))
	mux.Handle("GET /{$}", s.viewer(s.index))
	mux.Handle("GET /actions/{id}", s.viewer(s.actionPage))
	mux.Handle("GET /actions/{id}/fixture", s.viewer(s.fixture))
	mux.Handle("GET /status", s.viewer(s.statusPage))
	mux.Handle("GET /events", s.viewer(s.events))
	mux.Handle("GET /api/actions", s.viewer(s.apiActions))
	mux.Handle("GET /api/actions/{id}", s.viewer(s.apiAction))
	mux.Handle("GET /api/status", s.viewer(s.apiStatus))
	mux.Handle("GET /approvals/{id}", s.viewer(s.approvalPage))
	mux.Handle("POST /approvals/{id}", s.changer(s.decide))
	mux.Handle("GET /api/approvals", s.viewer(s.apiPending))
	mux.Handle("GET /api/approvals/{id}", s.viewer(s.apiApproval))
	return securityHeaders(mux)
}

type connKey struct{}

// withConn puts the connection in the request context, for Peer.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

func connOf(r *http.Request) net.Conn {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	return c
}

// securityHeaders keeps pages out of frames, caches and other origins'
// scripts, and keeps the URL (which may carry the token) out of Referer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
