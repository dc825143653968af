package policy

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
)

// Endpoint is a service the policy declares: what protocol it speaks, how
// agents reach it, what credential the gateway injects, and its hooks.
type Endpoint struct {
	Name     string
	Protocol string // "http", …
	Pos      string // where it was declared, file:line

	// HTTP endpoints.
	Hosts     []HostPattern
	Inject    *builtins.Injection // nil: the agent's own credential passes through
	CA        *builtins.Secret    // PEM roots for the upstream; nil: system roots
	BodyLimit int64               // bytes of request body the hook sees

	// Endpoints that the gateway serves on a port of their own (databases,
	// Kubernetes, ClickHouse): the port on the gateway's bind address (or
	// its tailnet address), and the real service behind it.
	Port     int
	Upstream string

	// Protocol-specific settings; exactly the one of Protocol is set.
	Postgres   *PostgresSettings
	Kubernetes *KubernetesSettings
	ClickHouse *ClickHouseSettings

	// Hooks maps a hook name ("on_request", "on_query") to its function.
	Hooks map[string]starlark.Callable
	// Hook names the hook that decides each action of this endpoint.
	Hook string
}

// HostPattern is one entry of an http endpoint's hosts: "api.github.com"
// (HTTPS on 443), "api.internal:8443" (HTTPS on that port),
// "http://svc.internal:8080" (plain HTTP; the only way credentials are ever
// injected over plain text), or a wildcard "*.example.com" matching any
// subdomain (not the domain itself).
type HostPattern struct {
	Scheme   string // "https" or "http"
	Host     string // lowercase; for a wildcard, the suffix after "*."
	Wildcard bool
	Port     int
}

// ParseHostPattern validates and normalizes one hosts entry.
func ParseHostPattern(s string) (HostPattern, error) {
	hp := HostPattern{Scheme: "https"}
	rest := strings.ToLower(strings.TrimSpace(s))
	if after, ok := strings.CutPrefix(rest, "http://"); ok {
		hp.Scheme, rest = "http", after
	} else if after, ok := strings.CutPrefix(rest, "https://"); ok {
		rest = after
	}
	if strings.ContainsAny(rest, "/?#@ ") {
		return hp, fmt.Errorf("host %q: give a host name with an optional port, not a URL", s)
	}
	host, portStr, err := net.SplitHostPort(rest)
	if err != nil {
		host, portStr = strings.Trim(rest, "[]"), ""
	}
	hp.Port = 443
	if hp.Scheme == "http" {
		hp.Port = 80
	}
	if portStr != "" {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 {
			return hp, fmt.Errorf("host %q: bad port %q", s, portStr)
		}
		hp.Port = p
	}
	if w, ok := strings.CutPrefix(host, "*."); ok {
		hp.Wildcard, host = true, w
	}
	hp.Host = CanonicalHost(host)
	if !ValidHost(hp.Host) {
		return hp, fmt.Errorf("host %q: %q is not a host name or IP address", s, hp.Host)
	}
	return hp, nil
}

// CanonicalHost is the one spelling of a host name or IP address that
// routing compares: lowercase, without a trailing dot, an IP address in
// its shortest form ("::ffff:10.0.0.1" is "10.0.0.1", "0:0::1" is "::1").
func CanonicalHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return h
}

// ValidHost reports whether h is an IP address or a DNS name made of
// letters, digits, hyphens and underscores.
func ValidHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// String renders the pattern as an operator would write it.
func (hp HostPattern) String() string {
	host := hp.Host
	if hp.Wildcard {
		host = "*." + host
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	prefix := ""
	if hp.Scheme == "http" {
		prefix = "http://"
	}
	if (hp.Scheme == "https" && hp.Port == 443) || (hp.Scheme == "http" && hp.Port == 80) {
		return prefix + host
	}
	return prefix + host + ":" + strconv.Itoa(hp.Port)
}

// match scores how well the pattern matches: 0 is no match; exact names
// beat wildcards, and longer wildcard suffixes beat shorter ones.
func (hp HostPattern) match(scheme, host string, port int) int {
	if hp.Scheme != scheme || hp.Port != port {
		return 0
	}
	if !hp.Wildcard {
		if host == hp.Host {
			return 1 << 16
		}
		return 0
	}
	if strings.HasSuffix(host, "."+hp.Host) {
		return len(hp.Host) + 1
	}
	return 0
}

// Route returns the http endpoint that declares host on port for scheme
// ("https" for CONNECT, "http" for plain proxy requests), or nil. host must
// be lowercase without a trailing dot.
func (p *Policy) Route(scheme, host string, port int) *Endpoint {
	var best *Endpoint
	bestScore := 0
	for _, ep := range p.Endpoints {
		for _, hp := range ep.Hosts {
			if s := hp.match(scheme, host, port); s > bestScore {
				best, bestScore = ep, s
			}
		}
	}
	return best
}
