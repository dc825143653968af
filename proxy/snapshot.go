package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/starlark/policy"
)

// Snapshot is one loaded policy with its secrets resolved: what the gateway
// serves. A reload builds a new Snapshot and swaps it in whole; requests in
// flight finish on the one they started with.
type Snapshot struct {
	Policy *policy.Policy
	Loaded time.Time
	// Judges answers the questions hooks put to the policy's judges; nil
	// when the policy declares none (asking one is then a policy error).
	Judges builtins.Asker

	secrets map[*builtins.Secret][]byte
	// current gives the live value of secrets that change after start
	// (Vault leases); see builtins.Resolver.VaultCurrent.
	current map[*builtins.Secret]func() ([]byte, error)
	agents  []*localAgent // declared agents with their passwords

	mu    sync.Mutex
	state map[string]any
}

// NewSnapshot resolves every secret the policy declared. A secret that
// cannot be resolved is an error naming its handle, never its value.
func NewSnapshot(ctx context.Context, p *policy.Policy, r builtins.Resolver) (*Snapshot, error) {
	s := &Snapshot{Policy: p, Loaded: time.Now(), secrets: make(map[*builtins.Secret][]byte),
		current: map[*builtins.Secret]func() ([]byte, error){}, state: map[string]any{}}
	for _, sec := range p.Secrets {
		v, err := r.Resolve(ctx, sec)
		if err != nil {
			return nil, fmt.Errorf("resolve secrets: %w", err)
		}
		s.secrets[sec] = v
		if sec.Kind == "vault" && r.VaultCurrent != nil {
			ref := sec.Ref
			s.current[sec] = func() ([]byte, error) { return r.VaultCurrent(ref) }
		}
	}
	if err := s.prepareAgents(); err != nil {
		return nil, err
	}
	return s, nil
}

// prepareAgents pairs each declared agent with its password. Two agents
// with one password could not be told apart, and an agent holds its
// password, so one that is also another secret of the policy (an injected
// credential, say) would hand that secret to the agent: both are errors.
func (s *Snapshot) prepareAgents() error {
	for _, a := range s.Policy.Agents {
		la := &localAgent{password: s.secrets[a.Password],
			agent: action.Agent{Name: a.Name, User: a.Name, Tags: slices.Clone(a.Tags), Caps: maps.Clone(a.Caps)}}
		for _, other := range s.agents {
			if bytes.Equal(other.password, la.password) {
				return fmt.Errorf("agents %q and %q have the same password: each agent needs its own", other.agent.Name, a.Name)
			}
		}
		for sec, v := range s.secrets {
			if sec != a.Password && !s.agentPassword(sec) && bytes.Equal(v, la.password) {
				return fmt.Errorf("agent %q's password is also %s: an agent must not hold a secret the gateway uses; give it a password of its own", a.Name, sec)
			}
		}
		s.agents = append(s.agents, la)
	}
	return nil
}

// agentPassword reports whether sec is a declared agent's password.
func (s *Snapshot) agentPassword(sec *builtins.Secret) bool {
	for _, a := range s.Policy.Agents {
		if a.Password == sec {
			return true
		}
	}
	return false
}

// Secret returns the current value of sec; nil if the policy did not
// declare it, or if it is no longer valid (a Vault lease that ended and
// could not be renewed). Callers must fail closed on nil.
func (s *Snapshot) Secret(sec *builtins.Secret) []byte {
	if cur, ok := s.current[sec]; ok {
		v, err := cur()
		if err != nil || len(v) == 0 {
			return nil
		}
		return v
	}
	return s.secrets[sec]
}

// SecretValues returns every secret value, as resolved and as it is now,
// for redaction.
func (s *Snapshot) SecretValues() [][]byte {
	out := make([][]byte, 0, len(s.secrets))
	for sec, v := range s.secrets {
		out = append(out, v)
		if cur, ok := s.current[sec]; ok {
			if v, err := cur(); err == nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// State returns what a protocol handler prepared for this snapshot (its
// upstream transports, say), building it with prepare on first use.
func (s *Snapshot) State(protocol string, prepare func() (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.state[protocol]; ok {
		return v, nil
	}
	v, err := prepare()
	if err != nil {
		return nil, err
	}
	s.state[protocol] = v
	return v, nil
}

// Close releases what protocol handlers prepared (idle upstream
// connections). The gateway calls it on a snapshot a reload replaced.
func (s *Snapshot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, v := range s.state {
		if c, ok := v.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// CredentialUnavailable is the error of an allowed action whose
// endpoint's credential is no longer valid (Secret returned nil: a Vault
// lease that ended and could not be renewed). Such an action is not
// forwarded.
func CredentialUnavailable(endpoint string) error {
	return fmt.Errorf("the credential of endpoint %s is unavailable (its Vault lease ended)", endpoint)
}
