package dashboard

import (
	"net/http"
	"time"
)

// Status is the policy being served and the outcome of the last reload.
type Status struct {
	Path   string    `json:"path"`
	Files  []string  `json:"files"`
	Hash   string    `json:"hash"`
	Mode   string    `json:"mode"`
	Loaded time.Time `json:"loaded"` // when the policy being served was loaded
	// The last reload attempt (or the start): when, and its error if it
	// was rejected (the policy above then keeps serving).
	LastAttempt time.Time  `json:"last_attempt"`
	LastError   string     `json:"last_error,omitempty"`
	Endpoints   []Endpoint `json:"endpoints"`
	Judges      []Judge    `json:"judges,omitempty"`
}

// Endpoint is one declared endpoint.
type Endpoint struct {
	Name     string   `json:"name"`
	Protocol string   `json:"protocol"`
	Pos      string   `json:"pos"`
	Hosts    []string `json:"hosts,omitempty"`
	Listen   string   `json:"listen,omitempty"` // the address of its own port, if it has one
	Upstream string   `json:"upstream,omitempty"`
	Inject   string   `json:"inject,omitempty"` // e.g. "bearer(<secret env:TOKEN>)": handles, never values
	Hooks    []Hook   `json:"hooks"`
}

// Hook is one hook of an endpoint.
type Hook struct {
	Name     string `json:"name"`     // "on_request"
	Function string `json:"function"` // the Starlark function's name
	Pos      string `json:"pos,omitempty"`
}

// Judge is one declared judge.
type Judge struct {
	Name    string        `json:"name"`
	Kind    string        `json:"kind"`
	Pos     string        `json:"pos"`
	Timeout time.Duration `json:"timeout_ns"`
}

// statusPage shows the policy status.
func (s *Server) statusPage(w http.ResponseWriter, r *request) error {
	st := s.cfg.Status()
	return s.render(w, r, http.StatusOK, "status", "Policy status", st)
}

// apiStatus returns the policy status as JSON.
func (s *Server) apiStatus(w http.ResponseWriter, r *request) error {
	return s.writeJSON(w, http.StatusOK, s.cfg.Status())
}
