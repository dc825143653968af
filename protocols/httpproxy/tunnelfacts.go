package httpproxy

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	"go.starlark.net/starlark"
)

// Tunnel is the facts of an action that ward did not parse: a CONNECT to a
// host no endpoint declares (refused or tunnelled), or a request refused
// before it could be decoded. No hook sees it; the audit log does.
type Tunnel struct {
	Method string
	Host   string
	Port   int
	Target string // request-target, when a request was refused
}

// Summary names the tunnel or refused request.
func (t *Tunnel) Summary() string {
	if t.Target != "" {
		return t.Method + " " + t.Target
	}
	return t.Method + " " + net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// MarshalJSON encodes the facts for the audit log.
func (t *Tunnel) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"method": t.Method, "host": t.Host, "port": t.Port, "target": t.Target})
}

// Attr returns method, host or port.
func (t *Tunnel) Attr(name string) (starlark.Value, error) {
	switch name {
	case "method":
		return starlark.String(t.Method), nil
	case "host":
		return starlark.String(t.Host), nil
	case "port":
		return starlark.MakeInt(t.Port), nil
	}
	return nil, nil
}

// AttrNames lists the facts.
func (t *Tunnel) AttrNames() []string { return []string{"host", "method", "port"} }

// String renders the summary.
func (t *Tunnel) String() string { return t.Summary() }

// Type is "http_tunnel".
func (t *Tunnel) Type() string { return "http_tunnel" }

// Freeze is a no-op.
func (t *Tunnel) Freeze() {}

// Truth is always true.
func (t *Tunnel) Truth() starlark.Bool { return true }

// Hash refuses.
func (t *Tunnel) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: http_tunnel") }
