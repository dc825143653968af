package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/wardproject/ward/protocols/kubernetes"
	"github.com/wardproject/ward/proxy/ca"
	"github.com/wardproject/ward/starlark/policy"
)

const kubeconfigUsage = "[--config ward.star] [--state-dir DIR] [--server URL] [-o FILE] NAME"

// runKubeconfig writes a kubeconfig for agents: the kubernetes endpoint
// NAME on the gateway, trusting the gateway CA, holding no credential.
func runKubeconfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("kubeconfig", kubeconfigUsage, stderr)
	config := fs.String("config", "ward.star", "the policy file")
	stateDir := fs.String("state-dir", "", "the gateway's state dir holding its CA (default: the policy's state_dir)")
	server := fs.String("server", "", "the URL agents reach the endpoint at (default: https://BIND:PORT from the policy)")
	output := fs.String("o", "", "write the kubeconfig to this file (mode 0600) instead of stdout")
	args, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(args) != 1 {
		fs.Usage()
		return 2
	}
	name := args[0]
	if err := missingPolicy(*config); err != nil {
		return fail(stderr, "kubeconfig", err)
	}
	p, err := policy.Load(*config, policy.Options{})
	if err != nil {
		return fail(stderr, "kubeconfig", err)
	}
	ep := p.Endpoint(name)
	if ep == nil || ep.Protocol != kubernetes.Protocol {
		return fail(stderr, "kubeconfig", fmt.Errorf("%s declares no kubernetes endpoint %q", p.Path, name))
	}
	url := *server
	if url == "" {
		if ep.Port == 0 {
			return fail(stderr, "kubeconfig", fmt.Errorf("endpoint %s listens on a free port (port = 0): pass --server https://HOST:PORT", name))
		}
		url = kubernetes.ServerURL(p.Gateway.Bind, ep.Port)
	}
	dir := *stateDir
	if dir == "" {
		dir = p.Gateway.StateDir
	}
	authority, err := ca.LoadOrCreate(dir)
	if err != nil {
		return fail(stderr, "kubeconfig", err)
	}
	cfg, err := kubernetes.Kubeconfig(authority.CertPEM(), kubernetes.Cluster{Name: name, Server: url, Namespace: ep.Kubernetes.Namespace})
	if err != nil {
		return fail(stderr, "kubeconfig", err)
	}
	if *output == "" {
		_, _ = stdout.Write(cfg)
		return 0
	}
	if err := os.WriteFile(*output, cfg, 0o600); err != nil {
		return fail(stderr, "kubeconfig", err)
	}
	return 0
}
