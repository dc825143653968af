// Package whois turns the tailnet's answer to "who is behind this
// connection?" into the agent ward records, and wraps a tailnet listener so
// that every accepted connection is identified once, before a protocol
// server reads a byte of it. It does not import tsnet: the tailnet itself is
// reached through the WhoIs seam.
package whois

import (
	"errors"
	"fmt"
	"strings"

	"tailscale.com/client/tailscale/apitype"
	"tailscale.com/tailcfg"

	"github.com/wardproject/ward/protocols/action"
)

// Agent converts a WhoIs answer for a connection from addr into an agent:
// name is the node's MagicDNS short name, user the owner's login name (for
// a tagged node, its tags joined with ","), tags the node's tags, and caps
// the grants of capability, merged (see MergeCaps).
func Agent(w *apitype.WhoIsResponse, capability tailcfg.PeerCapability, addr string) (action.Agent, error) {
	if w == nil || w.Node == nil {
		return action.Agent{}, errors.New("the tailnet does not know the peer")
	}
	a := action.Agent{Name: nodeName(w.Node), Tags: append([]string(nil), w.Node.Tags...), Addr: addr}
	if a.Name == "" {
		return action.Agent{}, fmt.Errorf("peer node %v has no name", w.Node.StableID)
	}
	switch {
	case len(a.Tags) > 0:
		a.User = strings.Join(a.Tags, ",")
	case w.UserProfile != nil && w.UserProfile.LoginName != "":
		a.User = w.UserProfile.LoginName
	default:
		return action.Agent{}, fmt.Errorf("peer node %s has neither tags nor an owner", a.Name)
	}
	caps, err := MergeCaps(w.CapMap[capability])
	if err != nil {
		return action.Agent{}, fmt.Errorf("grants of %s to %s: %w", capability, a.Name, err)
	}
	a.Caps = caps
	return a, nil
}

// nodeName is the first label of the node's MagicDNS name, falling back
// to the name the client computed or the host name it reported.
func nodeName(n *tailcfg.Node) string {
	if name, _, _ := strings.Cut(strings.TrimSuffix(n.Name, "."), "."); name != "" {
		return name
	}
	if n.ComputedName != "" {
		return n.ComputedName
	}
	if n.Hostinfo.Valid() {
		return n.Hostinfo.Hostname()
	}
	return ""
}
