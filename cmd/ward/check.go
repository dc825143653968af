package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.starlark.net/syntax"

	"github.com/wardproject/ward/starlark/policy"
)

func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", "[--config ward.star]", stderr)
	config := fs.String("config", "ward.star", "the policy file")
	if code := parseNoArgs(fs, args); code >= 0 {
		return code
	}
	if err := missingPolicy(*config); err != nil {
		return fail(stderr, "check", err)
	}
	p, err := policy.Load(*config, policy.Options{})
	if err != nil {
		return fail(stderr, "check", err)
	}
	gw := p.Gateway
	fmt.Fprintf(stdout, "policy %s (sha256 %s)\n", p.Path, p.Hash[:12])
	for _, f := range p.Files[1:] {
		fmt.Fprintf(stdout, "  loads %s\n", f)
	}
	fmt.Fprintf(stdout, "gateway: mode=%s bind=%s proxy_port=%d state_dir=%s audit=%s unknown_hosts=%s\n",
		gw.Mode, gw.Bind, gw.ProxyPort, gw.StateDir, gw.Audit, gw.UnknownHosts)
	if gw.DashboardPort > 0 {
		fmt.Fprintf(stdout, "dashboard: port %d", gw.DashboardPort)
		if len(gw.DashboardViewers) > 0 {
			fmt.Fprintf(stdout, ", viewers %s", strings.Join(gw.DashboardViewers, ", "))
		}
		fmt.Fprintln(stdout)
	}
	if t := p.Tailnet; t != nil {
		fmt.Fprintf(stdout, "tailnet: hostname=%s tags=%s ephemeral=%v log_upload=%v capability=%s declared at %s (listeners on the tailnet, not on bind)\n",
			t.Hostname, strings.Join(t.Tags, ","), t.Ephemeral, t.LogUpload, t.Capability, t.Pos)
	}
	for _, a := range p.Agents {
		fmt.Fprintf(stdout, "agent %s (password %s) declared at %s\n", a.Name, a.Password, a.Pos)
	}
	for _, ep := range p.Endpoints {
		fmt.Fprintf(stdout, "endpoint %s (%s) declared at %s\n", ep.Name, ep.Protocol, ep.Pos)
		if len(ep.Hosts) > 0 {
			hosts := make([]string, len(ep.Hosts))
			for i, h := range ep.Hosts {
				hosts[i] = h.String()
			}
			fmt.Fprintf(stdout, "  hosts:  %s\n", strings.Join(hosts, ", "))
		}
		if ep.Inject != nil && ep.Kubernetes != nil {
			fmt.Fprintf(stdout, "  credential: %s\n", ep.Inject) // kubernetes(credential = bearer(...))
		} else if ep.Inject != nil {
			fmt.Fprintf(stdout, "  inject: %s\n", ep.Inject)
		}
		if ep.Upstream != "" {
			fmt.Fprintf(stdout, "  port:   %d -> %s\n", ep.Port, ep.Upstream)
		}
		if k := ep.Kubernetes; k != nil && k.ClientCert != nil {
			fmt.Fprintf(stdout, "  credential: %s\n", k.ClientCert)
		}
		if c := ep.ClickHouse; c != nil {
			password := "no password"
			if c.Password != nil {
				password = "password " + c.Password.String()
			}
			fmt.Fprintf(stdout, "  user:   %s (auth = %s, %s)\n", c.User, c.Auth, password)
		}
		names := make([]string, 0, len(ep.Hooks))
		for name := range ep.Hooks {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			fmt.Fprintf(stdout, "  %s: %s\n", name, describeHook(ep.Hooks[name]))
		}
	}
	for _, j := range p.Judges {
		fmt.Fprintf(stdout, "judge %s declared at %s (timeout %s)\n", j.Name, j.Pos, j.Timeout)
	}
	if p.Vault != nil {
		fmt.Fprintf(stdout, "vault: %s\n", p.Vault.Address)
	}
	if len(p.Secrets) > 0 {
		fmt.Fprintf(stdout, "secrets (resolved when the gateway starts):\n")
		for _, s := range p.Secrets {
			fmt.Fprintf(stdout, "  %s\n", s)
		}
	}
	return 0
}

func describeHook(fn interface{ Name() string }) string {
	if f, ok := fn.(interface{ Position() syntax.Position }); ok {
		return fmt.Sprintf("%s (%s)", fn.Name(), f.Position())
	}
	return fn.Name()
}
