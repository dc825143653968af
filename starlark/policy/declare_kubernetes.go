package policy

import (
	"fmt"
	"net/url"
	"strings"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
)

// kubernetes is the builtin kubernetes.
//
//	def kubernetes(name, server, port, on_request, ca = None, credential = None,
//	               namespace = "", body_limit = "1MiB"):
//
// kubernetes declares a Kubernetes API server that agents reach on port of
// the gateway (TLS with a certificate from the gateway CA; `ward kubeconfig
// NAME` writes the agent's kubeconfig). server is the API server's URL
// ("https://10.0.0.1:6443", optionally with a path prefix); ca is a secret
// holding the cluster CA (PEM; None: system roots); credential is
// bearer(secret) or client_cert(cert, key), injected after an allow.
// on_request(req) decides every request. namespace is the default
// namespace of generated kubeconfigs. port = 0 picks a free port.
func (d *declarations) kubernetes(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, server, namespace string
		port                    int
		onRequest               starlark.Callable
		ca                      *builtins.Secret
		credential              starlark.Value = starlark.None
		bodyLimit                              = size(1 << 20)
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &name, "server", &server, "port", &port, "on_request", &onRequest,
		"ca?", &ca, "credential?", &credential, "namespace?", &namespace, "body_limit?", &bodyLimit); err != nil {
		return nil, err
	}
	u, err := parseUpstreamURL(server, "https")
	if err != nil {
		return nil, fmt.Errorf("%s: server: %w", b.Name(), err)
	}
	if err := checkPort(port); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	settings := &KubernetesSettings{Server: u, Namespace: namespace}
	ep := &Endpoint{Name: name, Protocol: "kubernetes", Upstream: server, CA: ca, Port: port,
		BodyLimit: int64(bodyLimit), Kubernetes: settings,
		Hooks: map[string]starlark.Callable{"on_request": onRequest}, Hook: "on_request"}
	switch c := credential.(type) {
	case starlark.NoneType:
	case *builtins.Injection:
		if c.Kind != "bearer" {
			return nil, fmt.Errorf("%s: credential = %s: a Kubernetes credential is bearer(secret) or client_cert(cert, key)", b.Name(), c)
		}
		ep.Inject = c
	case *builtins.ClientCert:
		settings.ClientCert = c
	default:
		return nil, fmt.Errorf("%s: credential is %s, want bearer(secret) or client_cert(cert, key)", b.Name(), credential.Type())
	}
	if err := checkHook(b, "on_request", onRequest); err != nil {
		return nil, err
	}
	if err := d.addEndpoint(thread, b, ep); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// parseUpstreamURL checks the URL of a service behind a port endpoint:
// one of schemes, a host, an optional port and path prefix, nothing else.
func parseUpstreamURL(raw string, schemes ...string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	ok := false
	for _, s := range schemes {
		ok = ok || u.Scheme == s
	}
	switch {
	case !ok:
		return nil, fmt.Errorf("%q: want a URL starting with %s://", raw, strings.Join(schemes, ":// or "))
	case u.User != nil:
		return nil, fmt.Errorf("%q: credentials do not go in the URL", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%q: no query or fragment allowed", raw)
	case !ValidHost(strings.ToLower(u.Hostname())):
		return nil, fmt.Errorf("%q: bad host", raw)
	}
	if p := u.Port(); p != "" {
		if err := checkPortString(p); err != nil {
			return nil, fmt.Errorf("%q: %w", raw, err)
		}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	return u, nil
}

func checkPort(port int) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("port %d is out of range (0 picks a free port)", port)
	}
	return nil
}

func checkPortString(p string) error {
	n := 0
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return fmt.Errorf("bad port %q", p)
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return fmt.Errorf("bad port %q", p)
		}
	}
	if n == 0 {
		return fmt.Errorf("bad port %q", p)
	}
	return nil
}
