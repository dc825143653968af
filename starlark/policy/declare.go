package policy

import (
	"fmt"
	"regexp"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
)

// declarations collects what a policy declares while it loads. It is the
// builtins.Registry of the loading thread.
type declarations struct {
	policy *Policy
}

// universe is what a policy file sees: the builtins and the declarations.
func (d *declarations) universe() starlark.StringDict {
	u := builtins.Universe()
	for name, v := range d.builtins() {
		u[name] = v
	}
	return u
}

func (d *declarations) builtins() starlark.StringDict {
	return starlark.StringDict{
		"gateway":  starlark.NewBuiltin("gateway", d.gateway),
		"http":     starlark.NewBuiltin("http", d.http),
		"postgres": starlark.NewBuiltin("postgres", d.postgres),
		"tailnet":  starlark.NewBuiltin("tailnet", d.tailnet),
		"agent":    starlark.NewBuiltin("agent", d.agent),

		"kubernetes":  starlark.NewBuiltin("kubernetes", d.kubernetes),
		"clickhouse":  starlark.NewBuiltin("clickhouse", d.clickhouse),
		"client_cert": builtins.ClientCertBuiltin,
	}
}

// AddSecret records a secret handle created while loading.
func (d *declarations) AddSecret(s *builtins.Secret) {
	d.policy.Secrets = append(d.policy.Secrets, s)
}

// AddJudge records a judge declared while loading.
func (d *declarations) AddJudge(j *builtins.Judge) {
	d.policy.Judges = append(d.policy.Judges, j)
}

// SetVault records vault.config.
func (d *declarations) SetVault(c *builtins.VaultConfig) error {
	if d.policy.Vault != nil {
		return fmt.Errorf("called twice; configure Vault once")
	}
	d.policy.Vault = c
	return nil
}

// finish checks what can only be checked once everything is declared.
func (d *declarations) finish() error {
	seen := map[HostPattern]string{}
	for _, ep := range d.policy.Endpoints {
		for _, hp := range ep.Hosts {
			if other, ok := seen[hp]; ok {
				return fmt.Errorf("host %s is declared by both endpoint %q and endpoint %q", hp, other, ep.Name)
			}
			seen[hp] = ep.Name
		}
	}
	ports := map[int]string{}
	for _, ep := range d.policy.Endpoints {
		if ep.Port == 0 {
			continue
		}
		if other, ok := ports[ep.Port]; ok {
			return fmt.Errorf("port %d is declared by both endpoint %q and endpoint %q", ep.Port, other, ep.Name)
		}
		ports[ep.Port] = ep.Name
	}
	return checkDashboardJudges(d.policy.Judges)
}

// checkDashboardJudges refuses two dashboard approvers with one name: the
// dashboard tells whose approvers may decide an approval by the name.
func checkDashboardJudges(judges []*builtins.Judge) error {
	at := map[string]string{}
	for _, j := range judges {
		if j.Kind != "dashboard" {
			continue
		}
		if pos, ok := at[j.Name]; ok {
			return fmt.Errorf("dashboard.approver %q is declared at %s and at %s: give each a distinct name = \"...\"", j.Name, pos, j.Pos)
		}
		at[j.Name] = j.Pos
	}
	return nil
}

var endpointName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// addEndpoint checks what every endpoint shares and adds it.
func (d *declarations) addEndpoint(thread *starlark.Thread, b *starlark.Builtin, ep *Endpoint) error {
	if _, err := builtins.Declaring(thread, b); err != nil {
		return err
	}
	if !endpointName.MatchString(ep.Name) {
		return fmt.Errorf("%s: name %q must be lowercase letters, digits, '_', '-' or '.'", b.Name(), ep.Name)
	}
	if d.policy.Endpoint(ep.Name) != nil {
		return fmt.Errorf("%s: endpoint %q is declared twice", b.Name(), ep.Name)
	}
	ep.Pos = thread.CallFrame(1).Pos.String()
	d.policy.Endpoints = append(d.policy.Endpoints, ep)
	return nil
}

// http is the builtin http.
//
//	def http(name, hosts, on_request, inject = None, ca = None, body_limit = "1MiB"):
//
// http declares an HTTP API reached through the gateway's proxy port. hosts
// lists host patterns (see HostPattern). on_request(req) is called for every
// request and must return a verdict. inject is bearer(...), basic(...) or
// header(...); ca is a secret holding PEM roots for the upstream.
func (d *declarations) http(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name      string
		hosts     *starlark.List
		onRequest starlark.Callable
		inject    *builtins.Injection
		ca        *builtins.Secret
		bodyLimit = size(1 << 20)
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &name, "hosts", &hosts, "on_request", &onRequest,
		"inject?", &inject, "ca?", &ca, "body_limit?", &bodyLimit); err != nil {
		return nil, err
	}
	ep := &Endpoint{Name: name, Protocol: "http", Inject: inject, CA: ca, BodyLimit: int64(bodyLimit),
		Hooks: map[string]starlark.Callable{"on_request": onRequest}, Hook: "on_request"}
	if hosts.Len() == 0 {
		return nil, fmt.Errorf("%s: %q declares no hosts", b.Name(), name)
	}
	for i := range hosts.Len() {
		s, ok := starlark.AsString(hosts.Index(i))
		if !ok {
			return nil, fmt.Errorf("%s: hosts[%d] is %s, want a string", b.Name(), i, hosts.Index(i).Type())
		}
		hp, err := ParseHostPattern(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		ep.Hosts = append(ep.Hosts, hp)
	}
	if err := checkHook(b, "on_request", onRequest); err != nil {
		return nil, err
	}
	if err := d.addEndpoint(thread, b, ep); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// checkHook verifies that fn can be called with one positional argument.
func checkHook(b *starlark.Builtin, param string, fn starlark.Callable) error {
	f, ok := fn.(*starlark.Function)
	if !ok {
		return nil // builtins check their own arguments
	}
	positional := f.NumParams() - f.NumKwonlyParams()
	if f.HasVarargs() {
		positional--
	}
	if f.HasKwargs() {
		positional--
	}
	required := 0
	for i := range positional + f.NumKwonlyParams() {
		if f.ParamDefault(i) == nil {
			required++
		}
	}
	if (positional == 0 && !f.HasVarargs()) || required > 1 || (positional == 0 && required > 0) {
		return fmt.Errorf("%s: %s = %s must take exactly one argument (the action)", b.Name(), param, f.Name())
	}
	return nil
}
