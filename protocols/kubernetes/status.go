package kubernetes

import (
	"encoding/json"
	"net/http"

	"github.com/wardproject/ward/protocols/httprelay"
)

// Status is the Kubernetes Status object ward answers with when it denies,
// refuses or fails a request: kubectl prints it as
// "Error from server (Forbidden): ward: denied: <reason>".
type Status struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Metadata   map[string]any `json:"metadata"`
	Status     string         `json:"status"`
	Message    string         `json:"message"`
	Reason     string         `json:"reason"`
	Code       int            `json:"code"`
}

// statusReasons maps HTTP status codes to Kubernetes StatusReasons.
var statusReasons = map[int]string{
	http.StatusBadRequest:          "BadRequest",
	http.StatusUnauthorized:        "Unauthorized",
	http.StatusForbidden:           "Forbidden",
	http.StatusBadGateway:          "InternalError",
	http.StatusServiceUnavailable:  "ServiceUnavailable",
	http.StatusInternalServerError: "InternalError",
}

// NewStatus builds the Status for e: message "ward: <kind>: <reason>",
// with "denied" for policy denials.
func NewStatus(e httprelay.Error) Status {
	kind := e.Kind
	if kind == httprelay.ErrDenied {
		kind = "denied"
	}
	reason, ok := statusReasons[e.Status]
	if !ok {
		reason = "InternalError"
	}
	return Status{Kind: "Status", APIVersion: "v1", Metadata: map[string]any{}, Status: "Failure",
		Message: "ward: " + kind + ": " + e.Reason, Reason: reason, Code: e.Status}
}

// WriteStatus writes e as a Kubernetes Status; the action ID goes in the
// X-Ward-Action header.
func WriteStatus(w http.ResponseWriter, e httprelay.Error) {
	body, _ := json.Marshal(NewStatus(e))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if e.ActionID != "" {
		h.Set("X-Ward-Action", e.ActionID)
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}
