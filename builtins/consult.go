package builtins

import (
	"sync"
	"time"

	"go.starlark.net/starlark"
)

// Consultation is one answer a judge gave during a hook call, as the audit
// record keeps it (in Record.Details).
type Consultation struct {
	Judge         string         `json:"judge"`
	Allowed       bool           `json:"allowed"`
	Reason        string         `json:"reason,omitempty"`
	DecidedBy     string         `json:"decided_by"`
	LatencyMicros int64          `json:"latency_us"`
	Details       map[string]any `json:"details,omitempty"`
}

// Consultations collects the judges' answers of one hook call.
type Consultations struct {
	mu   sync.Mutex
	list []Consultation
}

const consultKey = "ward.consultations"

// SetConsultations makes c collect the answers of judges asked on thread.
func SetConsultations(thread *starlark.Thread, c *Consultations) { thread.SetLocal(consultKey, c) }

// List returns the answers collected so far, in order.
func (c *Consultations) List() []Consultation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Consultation(nil), c.list...)
}

func consult(thread *starlark.Thread, j *Judge, a Answer, d time.Duration) {
	c, ok := thread.Local(consultKey).(*Consultations)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, Consultation{Judge: j.Name, Allowed: a.Verdict.Allowed, Reason: a.Verdict.Reason,
		DecidedBy: a.Verdict.DecidedBy, LatencyMicros: d.Microseconds(), Details: a.Details})
}
