package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wardproject/ward/protocols/action"
)

// The verdicts a [Record] can carry.
const (
	VerdictAllow       = "allow"       // the policy (or a judge) allowed the action
	VerdictDeny        = "deny"        // the action was denied and not forwarded
	VerdictWouldDeny   = "would_deny"  // observe mode: denied by the policy but forwarded
	VerdictPassthrough = "passthrough" // no endpoint claimed it; forwarded (unknown_hosts = "passthrough")
	VerdictRefused     = "refused"     // refused before any hook ran (ambiguous or unparseable)
)

// Record is one audited action.
type Record struct {
	Seq       int64           `json:"seq,omitempty"` // assigned by the store, increasing; 0 before load
	ID        string          `json:"id"`
	Time      time.Time       `json:"time"`
	Protocol  string          `json:"protocol"`
	Endpoint  string          `json:"endpoint"`
	Agent     action.Agent    `json:"agent"`
	Summary   string          `json:"summary"`         // one line, e.g. "DELETE https://api.github.com/repos/a/b"
	Facts     json.RawMessage `json:"facts,omitempty"` // what the hook saw
	Raw       json.RawMessage `json:"raw,omitempty"`   // the action as recorded for replay (fixtures)
	Verdict   string          `json:"verdict"`         // one of the Verdict* constants
	Reason    string          `json:"reason,omitempty"`
	DecidedBy string          `json:"decided_by,omitempty"`
	// PolicyMicros is the time spent in the hook, judge waits excluded.
	PolicyMicros int64           `json:"policy_us"`
	JudgeMicros  int64           `json:"judge_us,omitempty"`
	Details      json.RawMessage `json:"details,omitempty"` // judge transcript summary, model, tokens…

	// The outcome, filled in by [Journal.Complete] after forwarding.
	Completed      bool   `json:"completed"`
	Status         int    `json:"status,omitempty"`    // HTTP status, or a protocol-specific code
	BytesIn        int64  `json:"bytes_in,omitempty"`  // bytes from the agent forwarded upstream
	BytesOut       int64  `json:"bytes_out,omitempty"` // bytes from upstream returned to the agent
	DurationMicros int64  `json:"duration_us,omitempty"`
	Error          string `json:"error,omitempty"`
}

// Completion is the outcome of a forwarded action, recorded by
// [Journal.Complete] and applied to the [Record] with the same ID.
type Completion struct {
	ID       string        `json:"id"`
	Status   int           `json:"status,omitempty"`
	BytesIn  int64         `json:"bytes_in,omitempty"`
	BytesOut int64         `json:"bytes_out,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// Entry is one journal line: exactly one of Record and Completion is set.
type Entry struct {
	Record     *Record     `json:"record,omitempty"`
	Completion *Completion `json:"completion,omitempty"`
}

// validVerdict reports whether v is one of the Verdict* constants.
func validVerdict(v string) bool {
	switch v {
	case VerdictAllow, VerdictDeny, VerdictWouldDeny, VerdictPassthrough, VerdictRefused:
		return true
	}
	return false
}

// check reports why r cannot be journaled, if it cannot.
func (r *Record) check() error {
	switch {
	case r == nil:
		return errors.New("nil record")
	case r.ID == "":
		return errors.New("record has no ID")
	case !validVerdict(r.Verdict):
		return fmt.Errorf("record %s: unknown verdict %q", r.ID, r.Verdict)
	}
	return nil
}

// check reports why e, read back from the journal, cannot be loaded.
func (e *Entry) check() error {
	switch {
	case (e.Record == nil) == (e.Completion == nil):
		return errors.New("entry must hold exactly one of record and completion")
	case e.Record != nil && e.Record.ID == "":
		return errors.New("record has no ID")
	case e.Completion != nil && e.Completion.ID == "":
		return errors.New("completion has no ID")
	}
	return nil
}
