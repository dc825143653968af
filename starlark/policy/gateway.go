package policy

import (
	"fmt"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
)

// Gateway holds the gateway-wide settings of gateway(...). CLI flags
// override them.
type Gateway struct {
	Mode          string // "enforce" or "observe"
	Bind          string
	ProxyPort     int
	StateDir      string
	Audit         string // "sqlite" or a postgres:// URL
	AuditSync     string // "always", "batch" or "never"
	UnknownHosts  string // "deny" or "passthrough"
	DashboardPort int    // 0: no dashboard
	// CallbackPort serves Slack's HTTP interactivity and webhook approval
	// callbacks; 0: none. CallbackURL is how the outside world reaches it
	// (default http://<bind>:<callback_port>).
	CallbackPort int
	CallbackURL  string
	HookSteps    uint64
	HookTimeout  time.Duration
	declared     bool

	// DashboardViewers are the tailnet logins and tags that may view the
	// dashboard (the approvers of a dashboard.approver may too).
	DashboardViewers []string
}

// DefaultGateway returns the settings of a policy that never calls gateway().
func DefaultGateway() Gateway {
	return Gateway{
		Mode:         "enforce",
		Bind:         "127.0.0.1",
		ProxyPort:    8080,
		StateDir:     ".ward",
		Audit:        "sqlite",
		AuditSync:    "batch",
		UnknownHosts: "deny",
		HookSteps:    1_000_000,
		HookTimeout:  time.Second,
	}
}

// Observe reports whether denials are recorded but not enforced.
func (g Gateway) Observe() bool { return g.Mode == "observe" }

// gateway is the builtin gateway.
//
//	def gateway(mode = "enforce", bind = "127.0.0.1", proxy_port = 8080,
//	            state_dir = ".ward", audit = "sqlite", audit_sync = "batch",
//	            unknown_hosts = "deny", dashboard_port = 0, dashboard_viewers = [],
//	            callback_port = 0, callback_url = "",
//	            hook_steps = 1000000, hook_timeout = "1s"):
func (d *declarations) gateway(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if _, err := builtins.Declaring(thread, b); err != nil {
		return nil, err // a hook must not change the running gateway's settings
	}
	g := &d.policy.Gateway
	if g.declared {
		return nil, fmt.Errorf("%s: called twice; declare the gateway once", b.Name())
	}
	var hookSteps int
	var viewers *starlark.List
	hookTimeout := duration(g.HookTimeout)
	hookSteps = int(g.HookSteps)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"mode?", &g.Mode, "bind?", &g.Bind, "proxy_port?", &g.ProxyPort,
		"state_dir?", &g.StateDir, "audit?", &g.Audit, "audit_sync?", &g.AuditSync,
		"unknown_hosts?", &g.UnknownHosts, "dashboard_port?", &g.DashboardPort,
		"dashboard_viewers?", &viewers,
		"callback_port?", &g.CallbackPort, "callback_url?", &g.CallbackURL,
		"hook_steps?", &hookSteps, "hook_timeout?", &hookTimeout); err != nil {
		return nil, err
	}
	if viewers != nil {
		list, err := viewerList("dashboard_viewers", viewers)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		g.DashboardViewers = list
	}
	g.declared = true
	g.HookSteps, g.HookTimeout = uint64(max(hookSteps, 0)), time.Duration(hookTimeout)
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

// Validate checks the settings, whether from gateway() or from flags.
func (g Gateway) Validate() error {
	switch {
	case g.Mode != "enforce" && g.Mode != "observe":
		return fmt.Errorf("mode must be \"enforce\" or \"observe\", got %q", g.Mode)
	case g.UnknownHosts != "deny" && g.UnknownHosts != "passthrough":
		return fmt.Errorf("unknown_hosts must be \"deny\" or \"passthrough\", got %q", g.UnknownHosts)
	case g.AuditSync != "always" && g.AuditSync != "batch" && g.AuditSync != "never":
		return fmt.Errorf("audit_sync must be \"always\", \"batch\" or \"never\", got %q", g.AuditSync)
	case g.ProxyPort < 0 || g.ProxyPort > 65535:
		return fmt.Errorf("proxy_port %d is not a port", g.ProxyPort)
	case g.DashboardPort < 0 || g.DashboardPort > 65535:
		return fmt.Errorf("dashboard_port %d is not a port", g.DashboardPort)
	case checkPrincipals(g.DashboardViewers) != nil:
		return fmt.Errorf("dashboard_viewers: %w", checkPrincipals(g.DashboardViewers))
	case g.CallbackPort < 0 || g.CallbackPort > 65535:
		return fmt.Errorf("callback_port %d is not a port", g.CallbackPort)
	case g.CallbackURL != "" && !strings.HasPrefix(g.CallbackURL, "http://") && !strings.HasPrefix(g.CallbackURL, "https://"):
		return fmt.Errorf("callback_url %q must be an http:// or https:// URL", g.CallbackURL)
	case g.StateDir == "":
		return fmt.Errorf("state_dir must not be empty")
	case g.HookSteps < 1000:
		return fmt.Errorf("hook_steps %d is too small to run any hook (at least 1000)", g.HookSteps)
	case g.HookTimeout <= 0:
		return fmt.Errorf("hook_timeout must be positive")
	}
	return nil
}

// checkPrincipals checks a dashboard access list.
func checkPrincipals(list []string) error {
	for _, p := range list {
		if err := builtins.CheckPrincipal(p); err != nil {
			return err
		}
	}
	return nil
}

// viewerList converts a Starlark list of strings.
func viewerList(name string, l *starlark.List) ([]string, error) {
	out := make([]string, 0, l.Len())
	for i := range l.Len() {
		s, ok := starlark.AsString(l.Index(i))
		if !ok {
			return nil, fmt.Errorf("%s[%d] must be a string, got %s", name, i, l.Index(i).Type())
		}
		out = append(out, s)
	}
	return out, nil
}
