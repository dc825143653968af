package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/starlark/policy"
)

// Transport is where the gateway listens instead of its bind address: the
// tailnet. Connections it accepts arrive identified (proxy.PeerAgent).
type Transport interface {
	// Listen listens at addr's port; the host part is ignored.
	Listen(network, addr string) (net.Listener, error)
	// Host is the name agents dial (the node's MagicDNS name).
	Host() string
	Close() error
}

// TailnetConfig is what JoinTailnet gets: the policy's tailnet() settings
// (or the defaults, for `ward gateway --tailnet`), its resolved auth key,
// and the directory for the node's state.
type TailnetConfig struct {
	Settings policy.Tailnet
	AuthKey  string
	Dir      string
	Logger   *slog.Logger
}

// joinTailnet joins the tailnet when the policy declares one (or the
// command line asks), and makes it where every listener lives.
func (g *Gateway) joinTailnet(ctx context.Context, p *policy.Policy, snap *proxy.Snapshot) error {
	if p.Tailnet == nil && !g.opts.Tailnet {
		return nil
	}
	settings := policy.DefaultTailnet()
	if p.Tailnet != nil {
		settings = *p.Tailnet
	}
	if g.opts.JoinTailnet == nil {
		return errors.New("this policy joins a tailnet, but this build of ward has no tailnet transport")
	}
	cfg := TailnetConfig{Settings: settings, Dir: settings.StateDir, Logger: g.logger}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(g.stateDir, "tailnet")
	}
	if settings.AuthKey != nil {
		cfg.AuthKey = string(snap.Secret(settings.AuthKey))
	}
	t, err := g.opts.JoinTailnet(ctx, cfg)
	if err != nil {
		return err
	}
	g.transport, g.listen = t, t.Listen
	if len(p.Agents) > 0 {
		g.logger.Warn("the policy declares agents, but on the tailnet every agent is the node it connects from; agent credentials are not consulted",
			"agents", len(p.Agents))
	}
	return nil
}

// sameTailnet reports whether two policies join the same way; anything
// else needs a restart.
func sameTailnet(a, b *policy.Tailnet) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Hostname == b.Hostname && slices.Equal(a.Tags, b.Tags) && a.ControlURL == b.ControlURL &&
		a.StateDir == b.StateDir && a.Ephemeral == b.Ephemeral && a.LogUpload == b.LogUpload &&
		a.Capability == b.Capability && fmt.Sprint(a.AuthKey) == fmt.Sprint(b.AuthKey)
}

// ListenersFile is the file in the state dir where a running gateway says
// where it listens, for `ward run`.
const ListenersFile = "listeners.json"

// Listeners is the content of ListenersFile.
type Listeners struct {
	Host      string         `json:"host"` // the bind address, or the tailnet name
	Tailnet   bool           `json:"tailnet,omitempty"`
	ProxyPort int            `json:"proxy_port"`
	Endpoints map[string]int `json:"endpoints,omitempty"` // name → port
}

// writeListeners records where the gateway listens now. Failing to write
// it is logged: it is a convenience for `ward run`, not state.
func (g *Gateway) writeListeners(gw policy.Gateway) {
	l := Listeners{Host: gw.Bind, ProxyPort: port(g.proxyLn.Addr()), Endpoints: map[string]int{}}
	if g.transport != nil {
		l.Host, l.Tailnet = g.transport.Host(), true
	}
	for name, el := range g.listeners {
		l.Endpoints[name] = port(el.ln.Addr())
	}
	data, _ := json.MarshalIndent(l, "", "  ")
	path := filepath.Join(g.stateDir, ListenersFile)
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, append(data, '\n'), 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		g.logger.Warn("could not record the listeners for ward run", "error", err)
	}
}

// ReadListeners reads what a running gateway recorded in stateDir.
func ReadListeners(stateDir string) (*Listeners, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, ListenersFile))
	if err != nil {
		return nil, err
	}
	var l Listeners
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", ListenersFile, err)
	}
	return &l, nil
}

func port(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
