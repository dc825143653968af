package policytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// FixtureVersion is the format version written in "ward_fixture".
const FixtureVersion = 1

// Fixture is a recorded action and the verdict the policy must reach on it.
// `ward fixture ACTION_ID` writes one; `ward test` replays it through the
// protocol's decoder and the policy.
type Fixture struct {
	Version  int             `json:"ward_fixture"`
	Name     string          `json:"name,omitempty"`
	ActionID string          `json:"action_id,omitempty"`
	Recorded time.Time       `json:"recorded,omitzero"`
	Protocol string          `json:"protocol"`
	Endpoint string          `json:"endpoint"`
	Agent    action.Agent    `json:"agent"`
	Raw      json.RawMessage `json:"raw"`
	// Judges are the answers the judges gave when the action was recorded,
	// in the order they were asked; a replay answers with them instead of
	// asking anyone.
	Judges []JudgeAnswer `json:"judges,omitempty"`
	Expect Expect        `json:"expect"`
}

// Expect is a fixture's expected verdict.
type Expect struct {
	Verdict string `json:"verdict"`          // "allow" or "deny"
	Reason  string `json:"reason,omitempty"` // when set, must match exactly
}

// FromRecord turns an audited action into a fixture expecting the verdict
// the policy reached then. Actions the policy never saw (refused, tunnelled,
// undeclared hosts) cannot be fixtures.
func FromRecord(rec audit.Record) (*Fixture, error) {
	f := &Fixture{Version: FixtureVersion, ActionID: rec.ID, Recorded: rec.Time, Protocol: rec.Protocol,
		Endpoint: rec.Endpoint, Agent: rec.Agent, Raw: rec.Raw, Name: rec.Summary}
	switch rec.Verdict {
	case audit.VerdictAllow:
		f.Expect.Verdict = "allow"
	case audit.VerdictDeny, audit.VerdictWouldDeny:
		f.Expect.Verdict = "deny"
	default:
		return nil, fmt.Errorf("action %s was not decided by the policy (verdict %s): only decided actions make fixtures", rec.ID, rec.Verdict)
	}
	if rec.Endpoint == "" || len(rec.Raw) == 0 {
		return nil, fmt.Errorf("action %s was not decided by the policy: only decided actions make fixtures", rec.ID)
	}
	f.Expect.Reason = rec.Reason
	if len(rec.Details) > 0 {
		var d struct {
			Judges []JudgeAnswer `json:"judges"`
		}
		if err := json.Unmarshal(rec.Details, &d); err != nil {
			return nil, fmt.Errorf("action %s: judge details: %w", rec.ID, err)
		}
		f.Judges = d.Judges
	}
	return f, nil
}

// Marshal encodes the fixture as indented JSON.
func (f *Fixture) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	err := enc.Encode(f)
	return b.Bytes(), err
}

// ReadFixture reads and checks a fixture file.
func ReadFixture(path string) (*Fixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f Fixture
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a ward fixture: %w", err)
	}
	switch {
	case f.Version != FixtureVersion:
		return nil, fmt.Errorf("ward_fixture is %d, want %d", f.Version, FixtureVersion)
	case f.Protocol == "" || len(f.Raw) == 0:
		return nil, errors.New("fixture needs protocol and raw")
	case f.Expect.Verdict != "allow" && f.Expect.Verdict != "deny":
		return nil, fmt.Errorf("expect.verdict is %q, want \"allow\" or \"deny\"", f.Expect.Verdict)
	}
	return &f, nil
}

// runFixture replays one fixture against its policy.
func (r *Runner) runFixture(ctx context.Context, path string) Result {
	res := Result{File: path}
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	fail := func(format string, args ...any) Result {
		res.Failures = append(res.Failures, fmt.Sprintf(format, args...))
		return res
	}
	f, err := ReadFixture(path)
	if err != nil {
		return fail("%v", err)
	}
	p, err := r.fixturePolicy(path)
	if err != nil {
		return fail("%v", err)
	}
	proto := r.protocol(f.Protocol)
	if proto == nil {
		return fail("unknown protocol %q", f.Protocol)
	}
	ep, facts, err := proto.Decode(p, f.Raw)
	if err != nil {
		return fail("decode the recorded action: %v", err)
	}
	if ep.Name != f.Endpoint {
		return fail("recorded for endpoint %q, now routed to %q", f.Endpoint, ep.Name)
	}
	act := &action.Action{ID: f.ActionID, Time: f.Recorded, Protocol: f.Protocol, Endpoint: ep.Name, Agent: f.Agent, Facts: facts, Raw: f.Raw}
	if act.ID == "" {
		act.ID = "fixture"
	}
	res.Name = facts.Summary()
	rp := &replay{answers: f.Judges, used: make([]bool, len(f.Judges))}
	got := p.Call(builtins.WithAsker(ctx, rp), ep.Hooks[ep.Hook], act).Verdict
	if len(rp.missing) > 0 {
		return fail("%s", strings.Join(rp.missing, "; "))
	}
	gotVerdict := "deny"
	if got.Allowed {
		gotVerdict = "allow"
	}
	if gotVerdict != f.Expect.Verdict || (f.Expect.Reason != "" && got.Reason != f.Expect.Reason) {
		return fail("want %s %q, got %s %q", f.Expect.Verdict, f.Expect.Reason, gotVerdict, got.Reason)
	}
	return res
}

// fixturePolicy loads the policy a fixture is checked against: the
// runner's Config, or the nearest ward.star in the fixture's directory or
// above it.
func (r *Runner) fixturePolicy(fixture string) (*policy.Policy, error) {
	path := r.Config
	if path == "" {
		found, err := nearestPolicy(filepath.Dir(fixture))
		if err != nil {
			return nil, err
		}
		path = found
	}
	if p, ok := r.policies[path]; ok {
		return p, nil
	}
	p, err := policy.Load(path, policy.Options{Logger: r.logger()})
	if err != nil {
		return nil, err
	}
	if r.policies == nil {
		r.policies = make(map[string]*policy.Policy)
	}
	r.policies[path] = p
	return p, nil
}

func nearestPolicy(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, "ward.star")
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no ward.star in %s or above it: pass --config", dir)
		}
	}
}
