package postgres

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// A denial is produced by sending the server, in place of the denied
// message, a marker: a statement made of one unknown word, which fails to
// parse. The server treats it like any failed statement (aborting an open
// transaction, skipping the rest of an extended batch until Sync) and
// answers in order; the relay swaps its error for the denial. The word
// carries a per-session random nonce, so no agent can forge or trigger a
// marker.

// marker is a denial in flight.
type marker struct {
	token    string
	reason   string
	actionID string
	code     string
}

// maxMarkers bounds the denials a session remembers; markers the server
// skipped (after an earlier error in the same batch) are dropped first.
const maxMarkers = 1024

func (sess *session) newMarker(reason, actionID, code string) string {
	sess.markerSeq++
	if code == "" {
		code = "42501"
	}
	token := fmt.Sprintf("ward_denied_%s_%d", sess.nonce, sess.markerSeq)
	sess.mmu.Lock()
	if len(sess.markers) >= maxMarkers {
		sess.markers = sess.markers[1:]
	}
	sess.markers = append(sess.markers, marker{token: token, reason: reason, actionID: actionID, code: code})
	sess.mmu.Unlock()
	return token
}

// denySimple denies a simple-protocol Query (or FunctionCall).
func (sess *session) denySimple(reason, actionID, code string) error {
	token := sess.newMarker(reason, actionID, code)
	sess.syncsSent++
	sess.batchRuns = false
	return sess.forward(&pgproto3.Query{String: token}, true)
}

// denyExtended denies an extended-protocol message: the marker fails in
// its place and the agent's messages are discarded until Sync.
func (sess *session) denyExtended(reason, actionID, code string) error {
	token := sess.newMarker(reason, actionID, code)
	sess.discarding = true
	return sess.forward(&pgproto3.Parse{Name: token, Query: token}, false)
}

// denial returns the error to send in place of e if e is a marker's, or nil.
func (sess *session) denial(e *pgproto3.ErrorResponse) *pgproto3.ErrorResponse {
	if !strings.Contains(e.Message, sess.nonce) {
		return nil
	}
	sess.mmu.Lock()
	defer sess.mmu.Unlock()
	for i, m := range sess.markers {
		if !strings.Contains(e.Message, m.token) || !tokenEnds(e.Message, m.token) {
			continue
		}
		// The server answers in order: earlier markers were skipped.
		sess.markers = sess.markers[i+1:]
		out := &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: m.code,
			Message: "ward: denied: " + m.reason}
		if m.code == "57014" {
			out.Message = "canceling statement due to user request (ward: " + m.reason + ")"
		}
		if m.actionID != "" {
			out.Detail = "ward action " + m.actionID
		}
		return out
	}
	return nil
}

// tokenEnds checks that token is not a prefix of a longer token in msg
// (marker 1 must not match marker 12).
func tokenEnds(msg, token string) bool {
	i := strings.Index(msg, token)
	for i >= 0 {
		end := i + len(token)
		if end == len(msg) || msg[end] < '0' || msg[end] > '9' {
			return true
		}
		next := strings.Index(msg[end:], token)
		if next < 0 {
			return false
		}
		i = end + next
	}
	return false
}
