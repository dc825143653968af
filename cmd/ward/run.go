package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"sigs.k8s.io/yaml"

	"github.com/wardproject/ward/protocols/kubernetes"
	"github.com/wardproject/ward/proxy/agentenv"
	"github.com/wardproject/ward/proxy/ca"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/starlark/policy"
)

const runUsage = "[--config ward.star] [--state-dir DIR] [--gateway ADDR] [--agent NAME] [--postgres NAME] [--ca FILE] [--print-env] [-q] -- CMD ARGS..."

// runRun runs one agent with its environment pointed at the gateway. It
// replaces itself with the command (exec), so the command's exit status
// and signals are ward run's own.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", runUsage, stderr)
	config := fs.String("config", "ward.star", "the policy file the gateway serves")
	stateDir := fs.String("state-dir", "", "the gateway's state dir: its CA and, while it runs, its listeners (default: the policy's state_dir)")
	gw := fs.String("gateway", "", "the gateway as the agent dials it, HOST or HOST:PORT (default: the running gateway's, else the policy's bind address or tailnet name)")
	agent := fs.String("agent", "", "run as this agent(...) of the policy (local gateways whose policy declares agents)")
	pg := fs.String("postgres", "", "the postgres endpoint for PGHOST/PGPORT/... (default: the only one)")
	caFile := fs.String("ca", "", "the gateway CA certificate (default: ca.pem in the state dir; ward ca prints it)")
	printEnv := fs.Bool("print-env", false, "print what would be set and removed, as shell commands, and run nothing")
	quiet := fs.Bool("q", false, "do not report removed variables")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	argv := fs.Args()
	if len(argv) == 0 && !*printEnv {
		fs.Usage()
		return 2
	}
	if err := missingPolicy(*config); err != nil {
		return fail(stderr, "run", err)
	}
	p, err := policy.Load(*config, policy.Options{})
	if err != nil {
		return fail(stderr, "run", err)
	}
	dir := *stateDir
	if dir == "" {
		dir = p.Gateway.StateDir
	}
	opts, err := runOptions(p, dir, *gw, *caFile)
	if err != nil {
		return fail(stderr, "run", err)
	}
	opts.Agent, opts.Postgres, opts.Environ = *agent, *pg, os.Environ()
	opts.SystemRoots, _ = agentenv.SystemRoots(opts.Environ)
	opts.Files, err = agentenv.NewCacheFiles()
	if err != nil {
		return fail(stderr, "run", err)
	}
	opts.Kubeconfig = kubeconfig
	env, err := agentenv.Build(ctx, opts)
	if err != nil {
		return fail(stderr, "run", err)
	}
	if *printEnv {
		printRunEnv(stdout, env)
		return 0
	}
	if !*quiet {
		for _, r := range env.Removed {
			fmt.Fprintf(stderr, "ward run: removed %s from the agent's environment (%s)\n", r.Name, r.Why)
		}
		for _, n := range env.Notes {
			fmt.Fprintf(stderr, "ward run: %s\n", n)
		}
	}
	return execAgent(argv, env.Environ(opts.Environ), stderr)
}

// runOptions finds the gateway (address, ports, CA) for the agent.
func runOptions(p *policy.Policy, stateDir, gw, caFile string) (agentenv.Options, error) {
	o := agentenv.Options{Policy: p, ProxyPort: p.Gateway.ProxyPort, Host: dialHost(p.Gateway.Bind)}
	if p.Tailnet != nil {
		o.Host, o.Tailnet = p.Tailnet.Hostname, true
	}
	if l, err := gateway.ReadListeners(stateDir); err == nil {
		o.Host, o.Tailnet, o.ProxyPort, o.Ports = dialHost(l.Host), l.Tailnet, l.ProxyPort, l.Endpoints
	} else if !errors.Is(err, fs.ErrNotExist) {
		return o, err
	}
	if gw != "" {
		host, port, err := net.SplitHostPort(gw)
		if err != nil {
			host, port = gw, strconv.Itoa(o.ProxyPort)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || host == "" {
			return o, fmt.Errorf("--gateway %q: want HOST or HOST:PORT", gw)
		}
		o.Host, o.ProxyPort = host, n
	}
	if caFile == "" {
		caFile = filepath.Join(stateDir, ca.CertFile)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return o, fmt.Errorf("read the gateway CA: %w (the gateway creates it in its state dir on first start; or pass --ca FILE with the output of `ward ca`)", err)
	}
	o.CA = pem
	return o, nil
}

// dialHost turns a bind address into one an agent can dial.
func dialHost(bind string) string {
	switch bind {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return bind
}

// printRunEnv prints the environment as shell commands.
func printRunEnv(w io.Writer, env *agentenv.Env) {
	for _, n := range env.Notes {
		fmt.Fprintf(w, "# %s\n", n)
	}
	for _, r := range env.Removed {
		fmt.Fprintf(w, "unset %s  # %s\n", r.Name, r.Why)
	}
	for _, v := range env.Set {
		fmt.Fprintf(w, "export %s=%s\n", v.Name, shellQuote(v.Value))
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// execAgent replaces ward with the agent's command; it returns only when
// that fails: 127 when the command is not found, 126 otherwise, as shells
// do.
func execAgent(argv, environ []string, stderr io.Writer) int {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(stderr, "ward run: %s: %v\n", argv[0], err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return 127
		}
		return 126 // found, but not executable (a path without the x bit)
	}
	err = syscall.Exec(path, argv, environ)
	fmt.Fprintf(stderr, "ward run: %s: %v\n", argv[0], err)
	return 126
}

// kubeconfig renders the agent's kubeconfig with the kubernetes package.
func kubeconfig(caPEM []byte, clusters []agentenv.KubeCluster, token string) ([]byte, error) {
	kc := make([]kubernetes.Cluster, len(clusters))
	for i, c := range clusters {
		kc[i] = kubernetes.Cluster{Name: c.Endpoint.Name, Server: c.Server, Namespace: c.Endpoint.Kubernetes.Namespace}
	}
	cfg, err := kubernetes.Kubeconfig(caPEM, kc...)
	if err != nil || token == "" {
		return cfg, err
	}
	return withToken(cfg, token)
}

// withToken replaces the placeholder token of a generated kubeconfig with
// the agent's ward password, which the gateway identifies it by.
func withToken(cfg []byte, token string) ([]byte, error) {
	js, err := yaml.YAMLToJSON(cfg)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	users, _ := doc["users"].([]any)
	for _, u := range users {
		if m, ok := u.(map[string]any); ok {
			m["user"] = map[string]any{"token": token}
		}
	}
	js, err = json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(js)
}
