// Package judges holds the Go services behind the judges a policy declares
// (llm.judge, slack.approver, webhook.approver): each decides one action
// at a time, has a timeout, and fails closed — a timeout, an error, an
// unreachable service or an answer it cannot read is a denial whose reason
// says which.
//
// The sub-packages are the services (llm, slack, webhook) and the durable
// approval queue that human judges wait on (approval). They know nothing
// of Starlark; builtins adapts them.
package judges

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/wardproject/ward/protocols/action"
)

// Request is one question to a judge.
type Request struct {
	Action  *action.Action
	Note    string        // from the hook: ops.ask(q, note = "…")
	Timeout time.Duration // how long the judge may take
	// TimeoutReason, when set, replaces the judge's own reason for a
	// timeout (the bound was a Postgres transaction's, not the judge's).
	TimeoutReason string
}

// Outcome is a judge's verdict and what the audit log keeps about it.
type Outcome struct {
	Verdict action.Verdict
	Details map[string]any
}

// Judge decides actions. Decide never fails: every failure is a denial.
type Judge interface {
	Decide(ctx context.Context, req Request) Outcome
}

// Deny is a denying outcome.
func Deny(decidedBy, reason string, details map[string]any) Outcome {
	return Outcome{Verdict: action.Verdict{Reason: reason, DecidedBy: decidedBy}, Details: details}
}

// Masker removes secret values from text that leaves the gateway (a
// prompt, a Slack message, a webhook body). The gateway's masks every
// resolved secret; nil masks nothing.
type Masker func(string) string

// Apply masks s, if m is set.
func (m Masker) Apply(s string) string {
	if m == nil {
		return s
	}
	return m(s)
}

// Described is an action as judges send it out: to a model, a webhook,
// a Slack message.
type Described struct {
	ID       string          `json:"id"`
	Time     time.Time       `json:"time"`
	Protocol string          `json:"protocol"`
	Endpoint string          `json:"endpoint"`
	Agent    action.Agent    `json:"agent"`
	Summary  string          `json:"summary"`
	Facts    json.RawMessage `json:"facts,omitempty"`
	Note     string          `json:"note,omitempty"`
	// FactsSize is the size of the facts' JSON before any cut; Cut is set
	// when they were longer than the limit and Facts holds only their
	// start. A judge that decides by itself must not decide on a cut
	// action: what it did not see could be anything.
	FactsSize int  `json:"-"`
	Cut       bool `json:"-"`
}

// Describe renders req's action for a judge. The facts are the ones the
// hook saw (credentials already redacted by the protocol); facts longer
// than limit bytes are replaced by a string holding their first limit
// bytes, marked as cut.
func Describe(req Request, limit int) Described {
	act := req.Action
	d := Described{ID: act.ID, Time: act.Time, Protocol: act.Protocol, Endpoint: act.Endpoint, Agent: act.Agent, Note: req.Note}
	if act.Facts != nil {
		d.Summary = act.Facts.Summary()
		facts, err := json.Marshal(act.Facts)
		if err != nil {
			facts, _ = json.Marshal("(facts could not be encoded: " + err.Error() + ")")
		}
		d.FactsSize = len(facts)
		if limit > 0 && len(facts) > limit {
			facts, _ = json.Marshal(string(facts[:limit]) + "… (cut at " + itoa(limit) + " bytes)")
			d.Cut = true
		}
		d.Facts = facts
	}
	return d
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// JSON masks every string (keys included) inside a JSON document: masking
// its encoded text would miss a secret that encoding escapes (one holding
// '"', '<' or '&'). A document that is not JSON is masked as text.
func (m Masker) JSON(doc json.RawMessage) json.RawMessage {
	if m == nil || len(doc) == 0 {
		return doc
	}
	out, err := MapStrings(doc, m)
	if err != nil {
		return json.RawMessage(m(string(doc)))
	}
	return out
}

// MapStrings returns doc with f applied to every string in it, keys
// included, re-encoded compactly (object keys sorted, numbers kept as
// written, no HTML escaping).
func MapStrings(doc json.RawMessage, f func(string) string) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(mapStrings(v, f)); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func mapStrings(v any, f func(string) string) any {
	switch v := v.(type) {
	case string:
		return f(v)
	case []any:
		for i := range v {
			v[i] = mapStrings(v[i], f)
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[f(k)] = mapStrings(e, f)
		}
		return out
	}
	return v
}

// Described masks what d carries from the action: each string is masked
// as it is, before it is encoded into a prompt or a request body.
func (m Masker) Described(d Described) Described {
	if m == nil {
		return d
	}
	d.Summary, d.Note, d.Endpoint = m(d.Summary), m(d.Note), m(d.Endpoint)
	d.Agent.Name, d.Agent.User = m(d.Agent.Name), m(d.Agent.User)
	d.Facts = m.JSON(d.Facts)
	return d
}
