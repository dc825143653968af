package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/wardproject/ward/protocols/clickhouse"
	"github.com/wardproject/ward/protocols/kubernetes"
	"github.com/wardproject/ward/protocols/postgres"
	"github.com/wardproject/ward/starlark/policy"
)

// endpointServer serves one endpoint on a port of its own. It finds the
// endpoint by name in the engine's current snapshot for every connection,
// so a reload that keeps the port keeps the listener.
type endpointServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// endpointListener is a running endpoint server.
type endpointListener struct {
	name, protocol string
	port           int // as declared; 0 means a free port was picked
	ln             net.Listener
	srv            endpointServer
}

// newServer builds the server for an endpoint that has a port. Each
// protocol that listens on its own port is wired here.
func (g *Gateway) newServer(ep *policy.Endpoint) (endpointServer, error) {
	switch ep.Protocol {
	case "postgres":
		identify := g.opts.PostgresIdentify
		if identify == nil {
			identify = g.postgresIdentify
		}
		return &postgres.Server{Engine: g.engine, Endpoint: ep.Name, Analyzer: g.sql, CA: g.ca,
			Logger: g.logger, Identify: identify}, nil
	case kubernetes.Protocol:
		return kubernetes.NewServer(g.engine, g.ca, ep.Name, g.logger), nil
	case clickhouse.Protocol:
		return clickhouse.NewServer(g.engine, ep.Name, g.logger), nil
	}
	return nil, fmt.Errorf("endpoint %s: protocol %s does not listen on a port", ep.Name, ep.Protocol)
}

// plan opens listeners for the endpoints of p that need one and are not
// already served as declared. It returns the new listeners and the old ones
// that p no longer wants; nothing changes until commit. On error, every
// listener it opened is closed.
func (g *Gateway) plan(p *policy.Policy) (added, removed []*endpointListener, err error) {
	want := map[string]*policy.Endpoint{}
	for _, ep := range p.Endpoints {
		if ep.Port > 0 || (ep.Port == 0 && ep.Protocol != "http") {
			want[ep.Name] = ep
		}
	}
	for name, l := range g.listeners {
		if ep, ok := want[name]; !ok || ep.Protocol != l.protocol || ep.Port != l.port {
			removed = append(removed, l)
		}
	}
	for name, ep := range want {
		if l, ok := g.listeners[name]; ok && ep.Protocol == l.protocol && ep.Port == l.port {
			continue
		}
		l, err := g.openListener(p.Gateway, ep)
		if err != nil {
			for _, a := range added {
				a.ln.Close()
			}
			return nil, nil, err
		}
		added = append(added, l)
	}
	return added, removed, nil
}

func (g *Gateway) openListener(gw policy.Gateway, ep *policy.Endpoint) (*endpointListener, error) {
	srv, err := g.newServer(ep)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(gw.Bind, strconv.Itoa(ep.Port))
	ln, err := g.listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: listen on %s: %w", ep.Name, addr, err)
	}
	return &endpointListener{name: ep.Name, protocol: ep.Protocol, port: ep.Port, ln: ln, srv: srv}, nil
}

// commit starts the added listeners and stops the removed ones.
func (g *Gateway) commit(ctx context.Context, added, removed []*endpointListener) error {
	var errs []error
	for _, l := range removed {
		delete(g.listeners, l.name)
		errs = append(errs, l.srv.Shutdown(ctx))
		g.logger.Info("endpoint stopped listening", "endpoint", l.name, "addr", l.ln.Addr().String())
	}
	for _, l := range added {
		g.listeners[l.name] = l
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, net.ErrClosed) {
				g.logger.Error("endpoint stopped", "endpoint", l.name, "error", err)
			}
		}()
		g.logger.Info("endpoint listening", "endpoint", l.name, "protocol", l.protocol, "addr", l.ln.Addr().String())
	}
	return errors.Join(errs...)
}

// EndpointAddr is the address an endpoint with a port of its own listens
// on, or nil.
func (g *Gateway) EndpointAddr(name string) net.Addr {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if l, ok := g.listeners[name]; ok {
		return l.ln.Addr()
	}
	return nil
}

// closeListeners stops every endpoint server.
func (g *Gateway) closeListeners(ctx context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	var errs []error
	for name, l := range g.listeners {
		errs = append(errs, l.srv.Shutdown(ctx))
		delete(g.listeners, name)
	}
	return errors.Join(errs...)
}
