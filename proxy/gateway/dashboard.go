package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"

	"go.starlark.net/syntax"

	dashjudge "github.com/wardproject/ward/judges/dashboard"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/dashboard"
	"github.com/wardproject/ward/starlark/policy"
)

// dashboardService is the running web dashboard.
type dashboardService struct {
	srv   *dashboard.Server
	ln    net.Listener
	token string // local mode: the secret the printed URL carries
	// peer identifies tailnet peers; nil in local mode.
	peer func(net.Conn) (dashboard.Identity, bool)
}

// tailnetIdentity is who the tailnet says is behind a dashboard
// connection (WhoIs, done once by the tailnet listener): the owner's login,
// or the node's tags for a tagged node.
func tailnetIdentity(c net.Conn) (dashboard.Identity, bool) {
	a, ok := proxy.PeerAgent(c)
	if !ok {
		return dashboard.Identity{}, false
	}
	id := dashboard.Identity{Tags: a.Tags, Node: a.Name}
	if len(a.Tags) == 0 {
		id.Login = a.User
	}
	return id, true
}

// dashboardPort is the port the dashboard listens on, and whether there
// is a dashboard: Options.DashboardPort when set (0 picks a free port),
// else gateway(dashboard_port), where 0 means none.
func (g *Gateway) dashboardPort(gw policy.Gateway) (int, bool) {
	if g.opts.DashboardPort != nil {
		return *g.opts.DashboardPort, true
	}
	return gw.DashboardPort, gw.DashboardPort > 0
}

// startDashboard serves the dashboard when the policy or the options ask
// for one. It listens through the gateway's Listen seam, so on a tailnet
// it is on the tailnet.
func (g *Gateway) startDashboard(gw policy.Gateway) error {
	port, on := g.dashboardPort(gw)
	if !on {
		return nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("dashboard token: %w", err)
	}
	d := &dashboardService{token: base64.RawURLEncoding.EncodeToString(raw), peer: g.opts.DashboardPeer}
	if d.peer == nil && g.transport != nil {
		d.peer = tailnetIdentity
	}
	cfg := dashboard.Config{Store: g.store, Approvals: &queueApprovals{store: g.store, queue: g.judges.queue},
		Status: g.dashboardStatus, Access: g.dashboardAccess, Token: d.token, Peer: d.peer,
		Mask: g.redact.Redact, Logger: g.logger}
	srv, err := dashboard.New(cfg)
	if err != nil {
		return err
	}
	d.srv = srv
	addr := net.JoinHostPort(gw.Bind, strconv.Itoa(port))
	if d.ln, err = g.listen("tcp", addr); err != nil {
		return fmt.Errorf("listen on %s for the dashboard: %w", addr, err)
	}
	g.dash = d
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := srv.Serve(d.ln); err != nil && !errors.Is(err, net.ErrClosed) {
			g.logger.Error("dashboard stopped", "error", err)
		}
	}()
	g.logger.Info("dashboard listening", "addr", d.ln.Addr().String(), "tailnet", d.peer != nil)
	return nil
}

// DashboardURL is the address to open the dashboard at: locally with the
// token that lets the browser in. It is "" when there is no dashboard.
func (g *Gateway) DashboardURL() string {
	if g.dash == nil {
		return ""
	}
	host, port, _ := net.SplitHostPort(g.dash.ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	if g.transport != nil {
		host = g.transport.Host()
	}
	u := "http://" + net.JoinHostPort(host, port) + "/"
	if g.dash.peer == nil {
		u += "?token=" + g.dash.token
	}
	return u
}

// stopDashboard ends the dashboard's event streams and stops it.
func (g *Gateway) stopDashboard(ctx context.Context) error {
	if g.dash == nil {
		return nil
	}
	err := g.dash.srv.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// dashboardJudge builds a dashboard.approver's judge; it needs the
// dashboard.
func (g *Gateway) dashboardJudge(p *policy.Policy, name, pos string) (*dashjudge.Approver, error) {
	if _, on := g.dashboardPort(p.Gateway); !on {
		return nil, fmt.Errorf("%s (%s) is decided in the dashboard, which is off: set gateway(dashboard_port = 8081)", name, pos)
	}
	a := dashjudge.New(g.judges.queue, name)
	a.Opened = g.pokeDashboard
	return a, nil
}

// pokeDashboard makes open dashboards show a new approval at once.
func (g *Gateway) pokeDashboard() {
	if g.dash != nil {
		g.dash.srv.Poke()
	}
}

// dashboardAccess is who may use the dashboard on the tailnet, from the
// policy being served.
func (g *Gateway) dashboardAccess() dashboard.Access {
	p := g.engine.Snapshot().Policy
	a := dashboard.Access{Viewers: p.Gateway.DashboardViewers, Approvers: map[string][]string{}}
	for _, j := range p.Judges {
		if j.Kind == "dashboard" && j.Dashboard != nil {
			a.Approvers[j.Name] = j.Dashboard.Approvers
		}
	}
	return a
}

// dashboardStatus describes the policy being served and the last reload.
func (g *Gateway) dashboardStatus() dashboard.Status {
	snap := g.engine.Snapshot()
	p := snap.Policy
	rs := g.Status()
	st := dashboard.Status{Path: p.Path, Files: p.Files, Hash: p.Hash, Mode: p.Gateway.Mode, Loaded: snap.Loaded,
		LastAttempt: rs.At, LastError: rs.Error}
	for _, ep := range p.Endpoints {
		e := dashboard.Endpoint{Name: ep.Name, Protocol: ep.Protocol, Pos: ep.Pos, Upstream: ep.Upstream}
		for _, h := range ep.Hosts {
			e.Hosts = append(e.Hosts, h.String())
		}
		if addr := g.EndpointAddr(ep.Name); addr != nil {
			e.Listen = addr.String()
		}
		if ep.Inject != nil {
			e.Inject = ep.Inject.String()
		}
		for name, fn := range ep.Hooks {
			h := dashboard.Hook{Name: name, Function: fn.Name()}
			if f, ok := fn.(interface{ Position() syntax.Position }); ok {
				h.Pos = f.Position().String()
			}
			e.Hooks = append(e.Hooks, h)
		}
		slices.SortFunc(e.Hooks, func(a, b dashboard.Hook) int { return compare(a.Name, b.Name) })
		st.Endpoints = append(st.Endpoints, e)
	}
	for _, j := range p.Judges {
		st.Judges = append(st.Judges, dashboard.Judge{Name: j.Name, Kind: j.Kind, Pos: j.Pos, Timeout: j.Timeout})
	}
	return st
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// queueApprovals is the approval queue as the dashboard sees it: read
// from the store, decided through the queue (which wakes the waiter).
type queueApprovals struct {
	store audit.ApprovalStore
	queue interface {
		Decide(id, state, by, reason string) (audit.Approval, bool, error)
	}
}

func (q *queueApprovals) ListApprovals(ctx context.Context, f audit.ApprovalFilter) ([]audit.Approval, error) {
	return q.store.ListApprovals(ctx, f)
}

func (q *queueApprovals) GetApproval(ctx context.Context, id string) (audit.Approval, error) {
	return q.store.GetApproval(ctx, id)
}

func (q *queueApprovals) Decide(id, state, by, reason string) (audit.Approval, bool, error) {
	return q.queue.Decide(id, state, by, reason)
}
