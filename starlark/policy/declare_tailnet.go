package policy

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
)

// CapabilityName is the app capability under which ward reads an agent's
// grants from the tailnet policy file, unless tailnet(capability = ...)
// names another.
const CapabilityName = "github.com/wardproject/ward/cap/ward"

// Tailnet holds what tailnet(...) declares: the gateway joins the
// operator's tailnet as a node and listens there instead of on bind.
type Tailnet struct {
	Hostname string
	// AuthKey is an auth key or an OAuth client secret (tskey-client-…);
	// nil leaves enrolment to tsnet (TS_AUTHKEY, TS_CLIENT_SECRET, or a
	// login URL in the gateway log).
	AuthKey    *builtins.Secret
	Tags       []string
	ControlURL string // "" is Tailscale's coordination service
	// StateDir holds the node's state; "" is "tailnet" in the gateway's
	// state dir. Relative paths are relative to the policy file.
	StateDir   string
	Ephemeral  bool
	LogUpload  bool   // upload tailscale's client logs; off by default
	Capability string // the app capability that fills agent.caps
	Pos        string
}

var (
	tailnetHostname = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	tailnetTag      = regexp.MustCompile(`^tag:[a-zA-Z][a-zA-Z0-9-]*$`)
)

// tailnet is the builtin tailnet.
//
//	def tailnet(hostname = "ward", authkey = None, tags = [], control_url = None,
//	            state_dir = None, ephemeral = False, log_upload = False,
//	            capability = "github.com/wardproject/ward/cap/ward"):
//
// tailnet makes the gateway a node of the operator's tailnet: the proxy port
// and every endpoint port listen on the node's tailnet addresses, and each
// action's agent is the tailnet peer that sent it (WhoIs).
func (d *declarations) tailnet(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if _, err := builtins.Declaring(thread, b); err != nil {
		return nil, err
	}
	if d.policy.Tailnet != nil {
		return nil, fmt.Errorf("%s: called twice; declare the tailnet once (first at %s)", b.Name(), d.policy.Tailnet.Pos)
	}
	t := DefaultTailnet()
	var (
		tags                 *starlark.List
		controlURL, stateDir starlark.Value = starlark.None, starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"hostname?", &t.Hostname, "authkey?", &t.AuthKey, "tags?", &tags,
		"control_url?", &controlURL, "state_dir?", &stateDir, "ephemeral?", &t.Ephemeral,
		"log_upload?", &t.LogUpload, "capability?", &t.Capability); err != nil {
		return nil, err
	}
	var err error
	if t.ControlURL, err = optString("control_url", controlURL); err == nil {
		t.StateDir, err = optString("state_dir", stateDir)
	}
	if err == nil && tags != nil {
		t.Tags, err = unpackStrings("tags", tags)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if t.StateDir != "" {
		t.StateDir = builtins.CallerRelative(thread, t.StateDir)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	t.Pos = thread.CallFrame(1).Pos.String()
	d.policy.Tailnet = &t
	return starlark.None, nil
}

// DefaultTailnet is what tailnet() with no arguments, or `ward gateway
// --tailnet` without a tailnet() declaration, joins with.
func DefaultTailnet() Tailnet {
	return Tailnet{Hostname: "ward", Capability: CapabilityName}
}

// Validate checks the settings.
func (t Tailnet) Validate() error {
	if !tailnetHostname.MatchString(t.Hostname) {
		return fmt.Errorf("hostname %q must be a DNS label: lowercase letters, digits and '-'", t.Hostname)
	}
	for _, tag := range t.Tags {
		if !tailnetTag.MatchString(tag) {
			return fmt.Errorf("tag %q must look like \"tag:ward\"", tag)
		}
	}
	if t.ControlURL != "" {
		u, err := url.Parse(t.ControlURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("control_url %q must be an http:// or https:// URL", t.ControlURL)
		}
	}
	if t.Capability == "" || !strings.Contains(t.Capability, "/") || strings.ContainsAny(t.Capability, " \t\r\n") {
		return fmt.Errorf("capability %q must be a name such as %q", t.Capability, CapabilityName)
	}
	return nil
}

// optString unpacks None or a string.
func optString(name string, v starlark.Value) (string, error) {
	if v == starlark.None {
		return "", nil
	}
	s, ok := starlark.AsString(v)
	if !ok {
		return "", fmt.Errorf("%s must be a string or None, got %s", name, v.Type())
	}
	return s, nil
}
