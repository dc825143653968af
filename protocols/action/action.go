// Package action defines what ward decides on: an Action decoded from the
// wire by a protocol package, the Agent that sent it, and the Verdict that a
// policy hook (or a judge it asks) returns.
//
// The types are plain data so that every layer — protocols, the Starlark
// runtime, judges, the audit journal — can share them without depending on
// each other.
package action

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"time"

	"go.starlark.net/starlark"
)

// Agent is who sent an action: a tailnet node, a local agent credential, or
// the fixed local identity when the policy declares none.
type Agent struct {
	// Name is the tailnet node's name (the first label of its MagicDNS
	// name), the declared agent's name, or "local".
	Name string `json:"name"`
	// User is the node owner's login name; for a tagged node, its tags
	// joined with ","; for a declared agent, its name.
	User string   `json:"user"`
	Tags []string `json:"tags,omitempty"`
	Addr string   `json:"addr,omitempty"`
	// Caps are the app-capability grants of the tailnet policy under ward's
	// capability name, merged: each key maps to every value granted under
	// it (arrays flattened, duplicates removed, in grant order), each value
	// compact JSON. Declared agents have none.
	Caps map[string][]json.RawMessage `json:"caps,omitempty"`
	// Proof is how the gateway identified the agent, checked again on
	// every action so that a policy reload applies to connections already
	// open (see proxy.Engine.Identify). It is never recorded or shown to
	// hooks.
	Proof string `json:"-"`
}

// LocalAgent is the identity of an agent on a local listener when the policy
// declares no per-agent credentials.
func LocalAgent(addr string) Agent {
	return Agent{Name: "local", User: "local", Addr: addr}
}

// Facts is the protocol-specific part of an action, as hooks see it.
//
// Attr and AttrNames expose the protocol's fields (for HTTP: method, host,
// path, …) to Starlark; the values must be frozen or immutable. Summary is
// the one-line description used by `ward log`, judges and approval messages.
type Facts interface {
	starlark.HasAttrs
	Summary() string
}

// Action is one decision point: an HTTP request, a SQL message, a Kubernetes
// call. It is built by a protocol decoder and read by everything after it.
type Action struct {
	ID       string
	Time     time.Time
	Protocol string // "http", "postgres", …
	Endpoint string // the name the policy gave the endpoint
	Agent    Agent
	Facts    Facts
	// Raw is the action as recorded for replay by `ward test`: a
	// JSON-encodable value that the protocol's decoder turns back into the
	// same Facts. It never holds injected secrets or agent credentials.
	Raw any
}

// Verdict is the outcome of a decision.
type Verdict struct {
	Allowed bool
	Reason  string
	// DecidedBy names the decider: "policy", "llm:<model>", "slack:<user>",
	// "dashboard:<user>", "webhook:<url>", "timeout" or "error".
	DecidedBy string
	// JudgeLatency is the time spent waiting for judges, if any.
	JudgeLatency time.Duration
}

// Allow returns an allowing verdict decided by the policy.
func Allow(reason string) Verdict { return Verdict{Allowed: true, Reason: reason, DecidedBy: "policy"} }

// Deny returns a denying verdict decided by the policy.
func Deny(reason string) Verdict { return Verdict{Reason: reason, DecidedBy: "policy"} }

// PolicyError is the reason given to an agent when a hook fails; the details
// go to the gateway log, never to the agent.
const PolicyError = "policy error"

// NewID returns a fresh action ID: time-ordered, unique, URL-safe, e.g.
// "a0bmq2v6ks8k3fzz9". Sorting IDs as strings sorts them by creation time
// (to the millisecond).
func NewID() string {
	var b [13]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	// The top 48 bits hold the time; fill the rest with randomness.
	_, _ = rand.Read(b[6:])
	return "a" + idEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)
