// Package tailnet is the gateway's tailnet transport: with tsnet, the
// gateway becomes a node of the operator's tailnet, its listeners live on
// the node's tailnet addresses, and every accepted connection is identified
// by WhoIs (see package whois) before a protocol server sees it.
//
// It plugs into the gateway through gateway.Options.JoinTailnet; the
// gateway package itself does not link tsnet.
package tailnet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"tailscale.com/envknob"
	"tailscale.com/ipn"
	"tailscale.com/logtail"
	"tailscale.com/tsnet"

	"github.com/wardproject/ward/proxy/tailnet/whois"
	"github.com/wardproject/ward/starlark/policy"
)

// Config is how the gateway joins.
type Config struct {
	Settings policy.Tailnet
	AuthKey  string // resolved from Settings.AuthKey; "" leaves it to tsnet
	Dir      string // the node's state directory
	Logger   *slog.Logger
	// Store overrides the state store (tests use an in-memory one with an
	// ephemeral node); nil keeps the state in Dir.
	Store ipn.StateStore
}

// Node is the gateway's tailnet node.
type Node struct {
	srv    *tsnet.Server
	cfg    Config
	logger *slog.Logger
	// WhoIs identifies the peer of each accepted connection; it is the
	// node's LocalClient.WhoIs, and tests may replace it before listening.
	WhoIs whois.Func
	ip4   netip.Addr
	dns   string
}

// Join brings the node up and waits until it is running on the tailnet.
// Without an auth key and without saved state, tsnet logs a login URL and
// Join waits for someone to open it (or for ctx to end).
func Join(ctx context.Context, cfg Config) (*Node, error) {
	s := cfg.Settings
	if !s.LogUpload {
		// Tailscale's client uploads its logs (connection metadata
		// included) to its log service unless told not to; a security
		// product keeps that off unless the operator turns it on. Both
		// switches are process-wide and one-way.
		envknob.SetNoLogsNoSupport()
		logtail.Disable()
	}
	logger := cfg.Logger.With("component", "tailnet")
	srv := &tsnet.Server{
		Dir: cfg.Dir, Store: cfg.Store, Hostname: s.Hostname, AuthKey: cfg.AuthKey,
		ControlURL: s.ControlURL, Ephemeral: s.Ephemeral, AdvertiseTags: s.Tags,
		UserLogf: func(format string, args ...any) { logger.Info(strings.TrimSpace(fmt.Sprintf(format, args...))) },
		Logf:     func(format string, args ...any) { logger.Debug(strings.TrimSpace(fmt.Sprintf(format, args...))) },
	}
	status, err := srv.Up(ctx)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("join the tailnet as %q: %w%s", s.Hostname, err, advice(err, s))
	}
	lc, err := srv.LocalClient()
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("tailnet local client: %w", err)
	}
	n := &Node{srv: srv, cfg: cfg, logger: logger, WhoIs: lc.WhoIs}
	for _, ip := range status.TailscaleIPs {
		if ip.Is4() {
			n.ip4 = ip
		}
	}
	if status.Self != nil {
		n.dns = strings.TrimSuffix(status.Self.DNSName, ".")
	}
	logger.Info("joined the tailnet", "name", n.dns, "ips", fmt.Sprint(status.TailscaleIPs), "tags", strings.Join(s.Tags, ","),
		"log_upload", s.LogUpload)
	return n, nil
}

// advice turns failures with a known cause into a hint.
func advice(err error, s policy.Tailnet) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "invalid key") || strings.Contains(msg, "authkey"):
		return " (check the auth key: it may be expired, used up, or for another tailnet)"
	case strings.Contains(msg, "tags") && len(s.Tags) == 0:
		return " (an OAuth client secret needs tags: set tailnet(tags = [\"tag:ward\"]))"
	case strings.Contains(msg, "context deadline exceeded") || strings.Contains(msg, "context canceled"):
		return " (was the login URL in the log opened, and is the control server reachable?)"
	}
	return ""
}

// Listen listens on the node's tailnet addresses at addr's port (the host
// part, the local bind address, is ignored) and identifies every
// connection it accepts.
func (n *Node) Listen(network, addr string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("tailnet listen %q: %w", addr, err)
	}
	ln, err := n.srv.Listen(network, ":"+port)
	if err != nil {
		return nil, fmt.Errorf("tailnet listen on :%s: %w", port, err)
	}
	return whois.NewListener(ln, n.WhoIs, n.cfg.Settings.Capability, n.logger), nil
}

// Server is the tsnet server (tests wait on its DERP connection).
func (n *Node) Server() *tsnet.Server { return n.srv }

// IPv4 is the node's tailnet IPv4 address.
func (n *Node) IPv4() netip.Addr { return n.ip4 }

// Host is the name agents dial: the node's MagicDNS name, or its address.
func (n *Node) Host() string {
	if n.dns != "" {
		return n.dns
	}
	return n.ip4.String()
}

// String names the node for the gateway log.
func (n *Node) String() string {
	if n.dns != "" {
		return fmt.Sprintf("tailnet %s (%s)", n.dns, n.ip4)
	}
	return fmt.Sprintf("tailnet node %s (%s)", n.cfg.Settings.Hostname, n.ip4)
}

// Close leaves the tailnet (an ephemeral node is removed by the control
// server soon after).
func (n *Node) Close() error { return n.srv.Close() }
