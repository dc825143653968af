// Package agentenv computes the environment `ward run` gives one agent:
// proxy variables pointing at the gateway, CA bundles that trust the
// gateway's CA, client settings for database and Kubernetes endpoints, and
// the removal of the real credentials the gateway holds for the agent.
package agentenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/starlark/policy"
)

// Options is what the environment is computed from.
type Options struct {
	Policy *policy.Policy
	// Host is the gateway's address as the agent dials it: its bind
	// address, or its tailnet name.
	Host string
	// ProxyPort is the proxy's port; Ports, the ports of endpoints that
	// listen on their own (name → port; an endpoint missing here uses its
	// declared port).
	ProxyPort int
	Ports     map[string]int
	// Tailnet is true when the gateway is on the tailnet: the agent's
	// identity comes from its node, and no credential is passed.
	Tailnet bool
	// Agent names the declared agent to run as (local gateways whose
	// policy declares agents).
	Agent string
	// Postgres names the postgres endpoint for PG* variables; "" picks the
	// only one.
	Postgres string
	// CA is the gateway CA certificate (PEM); SystemRoots the roots the
	// agent trusts otherwise (PEM; may be empty).
	CA, SystemRoots []byte
	// Environ is the parent environment ("NAME=value" entries).
	Environ []string
	// Resolver reads the agent's password; the zero value reads the
	// environment and files.
	Resolver builtins.Resolver
	// Files writes generated files (CA bundles, kubeconfig) and returns
	// their paths.
	Files Files
	// Kubeconfig renders a kubeconfig for kubernetes endpoints that
	// presents token (the agent's ward password; "" for none); nil makes a
	// policy with kubernetes endpoints an error.
	Kubeconfig func(caPEM []byte, clusters []KubeCluster, token string) ([]byte, error)
}

// KubeCluster is one kubernetes endpoint as the agent reaches it.
type KubeCluster struct {
	Endpoint *policy.Endpoint
	Server   string // https://host:port
}

// Files stores generated files.
type Files interface {
	Write(name string, data []byte) (path string, err error)
}

// Var is one variable set for the agent.
type Var struct {
	Name, Value string
	Secret      bool // holds the agent's ward credential: not echoed in reports
}

// Removal is one variable removed from the parent environment.
type Removal struct {
	Name, Why string
}

// Env is the computed environment.
type Env struct {
	Set     []Var
	Removed []Removal
	Notes   []string // warnings for the user
}

// Build computes the agent's environment.
func Build(ctx context.Context, o Options) (*Env, error) {
	if o.Host == "" || o.ProxyPort <= 0 {
		return nil, errors.New("no gateway address: pass --gateway HOST:PORT")
	}
	if len(o.CA) == 0 {
		return nil, errors.New("no gateway CA")
	}
	e := &Env{}
	password, err := o.agentPassword(ctx)
	if err != nil {
		return nil, err
	}
	if err := e.setProxy(o, password); err != nil {
		return nil, err
	}
	caPath, err := e.setCA(o)
	if err != nil {
		return nil, err
	}
	if err := e.setPostgres(o, password, caPath); err != nil {
		return nil, err
	}
	if err := e.setKubernetes(o, password); err != nil {
		return nil, err
	}
	e.removeCredentials(o)
	return e, nil
}

// agentPassword resolves the password of the agent to run as; "" when the
// identity comes from elsewhere (the tailnet, or no declared agents).
func (o Options) agentPassword(ctx context.Context) (string, error) {
	p := o.Policy
	switch {
	case o.Tailnet && o.Agent != "":
		return "", fmt.Errorf("--agent %s: on the tailnet an agent is the node it runs on; --agent is for local gateways", o.Agent)
	case o.Tailnet:
		return "", nil
	case o.Agent == "" && len(p.Agents) > 0:
		return "", fmt.Errorf("the policy declares agents (%s): pass --agent NAME", agentNames(p))
	case o.Agent == "":
		return "", nil
	}
	a := p.Agent(o.Agent)
	if a == nil {
		if len(p.Agents) == 0 {
			return "", fmt.Errorf("--agent %s: the policy declares no agents, so every local agent is \"local\"", o.Agent)
		}
		return "", fmt.Errorf("--agent %s: the policy declares no such agent (it declares %s)", o.Agent, agentNames(p))
	}
	pw, err := o.Resolver.Resolve(ctx, a.Password)
	if err != nil {
		return "", fmt.Errorf("agent %s: %w", a.Name, err)
	}
	return string(pw), nil
}

func agentNames(p *policy.Policy) string {
	names := make([]string, len(p.Agents))
	for i, a := range p.Agents {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

// setProxy sets the proxy variables, upper and lower case.
func (e *Env) setProxy(o Options, password string) error {
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(o.Host, strconv.Itoa(o.ProxyPort))}
	if password != "" {
		u.User = url.UserPassword(o.Agent, password)
	}
	for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"} {
		e.set(name, u.String(), password != "")
		e.set(strings.ToLower(name), u.String(), password != "")
	}
	noProxy := strings.Join(noProxyHosts(o), ",")
	e.set("NO_PROXY", noProxy, false)
	e.set("no_proxy", noProxy, false)
	return nil
}

// noProxyHosts lists the hosts the agent reaches without the proxy: the
// loopback names and the gateway's own host (its database and Kubernetes
// ports), less any entry that would exempt a host an http endpoint
// declares. Clients read an entry as the name and every name under it
// (localhost exempts api.localhost), so a declared host under an entry,
// or a declared wildcard over it, keeps the entry out.
func noProxyHosts(o Options) []string {
	out := []string{}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", policy.CanonicalHost(strings.Trim(o.Host, "[]"))} {
		if h != "" && !slices.Contains(out, h) && !exempts(o.Policy, h) {
			out = append(out, h)
		}
	}
	return out
}

// exempts reports whether the NO_PROXY entry h would let a host that p
// declares bypass the gateway.
func exempts(p *policy.Policy, h string) bool {
	for _, ep := range p.Endpoints {
		for _, hp := range ep.Hosts {
			if hp.Host == h || strings.HasSuffix(hp.Host, "."+h) || (hp.Wildcard && strings.HasSuffix(h, "."+hp.Host)) {
				return true
			}
		}
	}
	return false
}

func (e *Env) set(name, value string, secret bool) {
	e.Set = append(e.Set, Var{Name: name, Value: value, Secret: secret})
}

// Lookup returns the value the environment sets for name.
func (e *Env) Lookup(name string) (string, bool) {
	for _, v := range e.Set {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

// Environ applies e to the parent environment: removed variables are
// dropped, set ones replace the parent's.
func (e *Env) Environ(parent []string) []string {
	drop := map[string]bool{}
	for _, r := range e.Removed {
		drop[r.Name] = true
	}
	for _, v := range e.Set {
		drop[v.Name] = true
	}
	out := make([]string, 0, len(parent)+len(e.Set))
	for _, kv := range parent {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			out = append(out, kv)
		}
	}
	for _, v := range e.Set {
		out = append(out, v.Name+"="+v.Value)
	}
	return slices.Clip(out)
}
