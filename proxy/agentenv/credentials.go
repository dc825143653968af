package agentenv

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/wardproject/ward/starlark/policy"
)

// knownCredentials are the variables clients read a service's credential
// from, by the host an http endpoint declares. They are removed when the
// endpoint injects the credential itself.
var knownCredentials = []struct {
	host  string // exact host, or ".suffix" for subdomains
	names []string
}{
	{"api.github.com", []string{"GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT"}},
	{"github.com", []string{"GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT"}},
	{"gitlab.com", []string{"GITLAB_TOKEN", "GL_TOKEN"}},
	{"api.openai.com", []string{"OPENAI_API_KEY"}},
	{"api.anthropic.com", []string{"ANTHROPIC_API_KEY"}},
	{"slack.com", []string{"SLACK_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}},
	{".slack.com", []string{"SLACK_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}},
	{"api.stripe.com", []string{"STRIPE_API_KEY", "STRIPE_SECRET_KEY"}},
}

// protocolCredentials are removed whenever the policy declares an
// endpoint of the protocol: the gateway logs in upstream for the agent.
var protocolCredentials = map[string][]string{
	"postgres":   {"PGPASSWORD"},
	"clickhouse": {"CLICKHOUSE_PASSWORD"},
}

// pgSteering are libpq variables that would take a client past the
// gateway's PGHOST/PGPORT: PGHOSTADDR is dialled instead of PGHOST, and a
// PGSERVICE's settings (host, port, user, password) win over the PG*
// variables. They are removed when ward run points libpq at the gateway.
var pgSteering = []string{"PGHOSTADDR", "PGSERVICE"}

// minEchoLen is the shortest secret value looked for under other names.
const minEchoLen = 8

// removeCredentials drops from the parent environment the real
// credentials of the services the policy declares: every variable a
// secrets.env(...) of the policy names, any other variable holding the
// same value, and the well-known variables of declared services.
func (e *Env) removeCredentials(o Options) {
	env := map[string]string{}
	var order []string
	for _, kv := range o.Environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok {
			env[name] = value
			order = append(order, name)
		}
	}
	why := map[string]string{}
	for _, s := range o.Policy.Secrets {
		if s.Kind != "env" {
			continue
		}
		if _, ok := env[s.Ref]; ok && why[s.Ref] == "" {
			why[s.Ref] = "the gateway's secret " + s.String()
		}
		if v := env[s.Ref]; len(v) >= minEchoLen {
			for _, name := range order {
				if name == s.Ref || why[name] != "" {
					continue
				}
				if env[name] == v {
					why[name] = fmt.Sprintf("same value as %s, the gateway's secret", s.Ref)
				} else if embeds(env[name], v) {
					why[name] = fmt.Sprintf("holds the value of %s, the gateway's secret", s.Ref)
				}
			}
		}
	}
	if e.sets("PGHOST") {
		for _, name := range pgSteering {
			if _, ok := env[name]; ok && why[name] == "" {
				why[name] = "it would take libpq past the gateway's PGHOST/PGPORT"
			}
		}
	}
	for _, ep := range o.Policy.Endpoints {
		for _, name := range serviceCredentials(ep) {
			if _, ok := env[name]; ok && why[name] == "" {
				why[name] = fmt.Sprintf("%s endpoint %s: the gateway holds the credential", ep.Protocol, ep.Name)
			}
		}
	}
	for _, name := range order {
		w := why[name]
		if w == "" {
			continue
		}
		if e.sets(name) {
			w += "; replaced by what ward run sets"
		}
		e.Removed = append(e.Removed, Removal{Name: name, Why: w})
	}
}

// serviceCredentials lists the well-known credential variables of ep.
func serviceCredentials(ep *policy.Endpoint) []string {
	if names, ok := protocolCredentials[ep.Protocol]; ok {
		return names
	}
	if ep.Inject == nil {
		return nil // the agent's own credential is what reaches the service
	}
	var out []string
	for _, hp := range ep.Hosts {
		for _, k := range knownCredentials {
			match := hp.Host == k.host || (strings.HasPrefix(k.host, ".") && strings.HasSuffix(hp.Host, k.host)) ||
				(hp.Wildcard && "."+hp.Host == k.host)
			if match {
				out = append(out, k.names...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sets reports whether e sets name.
func (e *Env) sets(name string) bool {
	_, ok := e.Lookup(name)
	return ok
}

// embeds reports whether value holds secret as it is, or escaped as in a
// URL (postgres://user:SECRET@host/db).
func embeds(value, secret string) bool {
	for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		if strings.Contains(value, form) {
			return true
		}
	}
	return false
}
