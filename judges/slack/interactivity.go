package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/slack-go/slack"
)

// maxInteractionBody bounds an interactivity request.
const maxInteractionBody = 1 << 20

// Interactivity serves Slack's HTTP interactivity requests: each must be
// signed with the signing secret of the approver whose message was
// clicked, and at most five minutes old (older ones are replays).
type Interactivity struct {
	Hub *Hub
	// Secrets are the signing secrets of the approvers that use HTTP
	// interactivity.
	Secrets func() []string
}

// ServeHTTP verifies and handles one interaction.
func (it *Interactivity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInteractionBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	secret, err := verify(r.Header, body, it.Secrets())
	if err != nil {
		it.Hub.logger.Warn("slack: interactivity request refused", "error", err, "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	if c, ok := clickFrom(cb); ok {
		c.signingSecret = secret
		go it.Hub.handle(context.WithoutCancel(r.Context()), c)
	}
	w.WriteHeader(http.StatusOK)
}

// errBadSignature is a request that no signing secret verifies.
var errBadSignature = errors.New("bad or missing Slack signature")

// verify returns the secret that signed body, refusing stale timestamps.
func verify(h http.Header, body []byte, secrets []string) (string, error) {
	var last error = errBadSignature
	for _, s := range secrets {
		sv, err := slack.NewSecretsVerifier(h, s)
		if err != nil {
			if errors.Is(err, slack.ErrExpiredTimestamp) {
				return "", errors.New("stale Slack request: timestamp older than five minutes")
			}
			last = errBadSignature
			continue
		}
		_, _ = sv.Write(body)
		if sv.Ensure() == nil {
			return s, nil
		}
	}
	return "", last
}
