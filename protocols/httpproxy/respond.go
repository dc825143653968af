package httpproxy

import (
	"encoding/json"
	"net/http"
)

// Problem is the JSON body of every response ward itself writes to an
// HTTP agent: a denial, a refusal, or a gateway failure.
type Problem struct {
	Error    string `json:"error"` // "denied by policy", "refused", "upstream error", …
	Reason   string `json:"reason,omitempty"`
	ActionID string `json:"action_id,omitempty"`
}

// Error strings of Problem.
const (
	ErrDenied   = "denied by policy"
	ErrRefused  = "refused"
	ErrUpstream = "upstream error"
	ErrGateway  = "gateway error"
)

// WriteProblem writes p as JSON with the given status.
func WriteProblem(w http.ResponseWriter, status int, p Problem) {
	body, _ := json.Marshal(p)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Ward-Action", p.ActionID)
	if p.ActionID == "" {
		h.Del("X-Ward-Action")
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
