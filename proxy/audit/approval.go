package audit

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/wardproject/ward/protocols/action"
)

// The states of an [Approval]. Only ApprovalPending changes, once.
const (
	ApprovalPending   = "pending"
	ApprovalAllowed   = "allowed"
	ApprovalDenied    = "denied"
	ApprovalTimedOut  = "timed_out"
	ApprovalCancelled = "cancelled"
)

// ErrApprovalDecided is returned when deciding an approval that is no longer
// pending.
var ErrApprovalDecided = errors.New("audit: approval already decided")

// Approval is one wait for a human (or a webhook) to decide an action: a
// row that starts pending and is decided exactly once. The gateway writes it
// when a judge starts waiting; `ward approve`/`ward deny`, Slack clicks,
// webhook callbacks, timeouts and cancellations decide it.
type Approval struct {
	ID       string       `json:"id"`
	ActionID string       `json:"action_id"`
	Owner    string       `json:"owner"` // the gateway instance that waits (its journal ID)
	Judge    string       `json:"judge"` // e.g. "slack:#agent-ops"
	Created  time.Time    `json:"created"`
	Expires  time.Time    `json:"expires"`
	Protocol string       `json:"protocol"`
	Endpoint string       `json:"endpoint"`
	Agent    action.Agent `json:"agent"`
	Summary  string       `json:"summary"`
	Note     string       `json:"note,omitempty"`
	// Facts are the action's facts as the hook saw them.
	Facts json.RawMessage `json:"facts,omitempty"`

	State     string    `json:"state"`
	DecidedBy string    `json:"decided_by,omitempty"` // "slack:U123", "cli:alice", "timeout", …
	Reason    string    `json:"reason,omitempty"`
	Decided   time.Time `json:"decided,omitzero"`
	// Ref is the judge's own reference to the request it sent (the Slack
	// channel and message timestamp), so that the message can be updated
	// when the approval is decided elsewhere or the gateway restarts.
	Ref json.RawMessage `json:"ref,omitempty"`
}

// Pending reports whether the approval is still waiting.
func (a Approval) Pending() bool { return a.State == ApprovalPending }

// ApprovalFilter selects approvals for [ApprovalStore.ListApprovals].
type ApprovalFilter struct {
	State string // exact match; empty = any
	Limit int    // 0 = 100
}

// ApprovalStore is the durable approval queue, shared by every process that
// opens the same store: the gateway that waits and the CLI that decides.
type ApprovalStore interface {
	// CreateApproval stores a new pending approval.
	CreateApproval(ctx context.Context, a *Approval) error
	// SetApprovalRef records the judge's reference to its request.
	SetApprovalRef(ctx context.Context, id string, ref json.RawMessage) error
	// DecideApproval moves a pending approval to state. It returns the
	// approval as stored afterwards and whether this call decided it; when
	// it was decided already, the stored decision is returned unchanged.
	DecideApproval(ctx context.Context, id, state, by, reason string, at time.Time) (Approval, bool, error)
	// GetApproval returns the approval with the ID, or an error wrapping
	// ErrNotFound.
	GetApproval(ctx context.Context, id string) (Approval, error)
	// ListApprovals returns approvals matching f, oldest first.
	ListApprovals(ctx context.Context, f ApprovalFilter) ([]Approval, error)
	// CloseOwnerPending decides every approval still pending for owner (a
	// gateway that restarted) and returns them as closed.
	CloseOwnerPending(ctx context.Context, owner, state, by, reason string, at time.Time) ([]Approval, error)
}

// validApprovalState reports whether s is a state an approval can be
// decided into.
func validApprovalState(s string) bool {
	switch s {
	case ApprovalAllowed, ApprovalDenied, ApprovalTimedOut, ApprovalCancelled:
		return true
	}
	return false
}
