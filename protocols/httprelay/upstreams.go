package httprelay

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/starlark/policy"
)

// Upstreams is the per-snapshot state of one protocol: a transport per
// endpoint name.
type Upstreams map[string]*Transport

// Close drops the idle upstream connections of a retired snapshot.
func (u Upstreams) Close() error {
	for _, t := range u {
		t.CloseIdleConnections()
	}
	return nil
}

// ClientCertFunc gives the client certificate an endpoint presents to its
// upstream; nil for none.
type ClientCertFunc func(snap *proxy.Snapshot, ep *policy.Endpoint) (*tls.Certificate, error)

// UpstreamsOf returns the transports of snap's endpoints of protocol,
// built on first use and kept with the snapshot: each trusts its
// endpoint's ca (PEM; without one, the system roots) and presents the
// certificate cert gives (cert may be nil). A protocol calls it when the
// gateway prepares a snapshot, so that a bad CA or certificate fails the
// start or the reload rather than a request.
func UpstreamsOf(snap *proxy.Snapshot, protocol string, cert ClientCertFunc) (Upstreams, error) {
	v, err := snap.State(protocol, func() (any, error) { return buildUpstreams(snap, protocol, cert) })
	if err != nil {
		return nil, err
	}
	return v.(Upstreams), nil
}

func buildUpstreams(snap *proxy.Snapshot, protocol string, cert ClientCertFunc) (Upstreams, error) {
	u := Upstreams{}
	for _, ep := range snap.Policy.Endpoints {
		if ep.Protocol != protocol {
			continue
		}
		var cfg TLS
		if ep.CA != nil {
			cfg.Roots = x509.NewCertPool()
			if !cfg.Roots.AppendCertsFromPEM(snap.Secret(ep.CA)) {
				return nil, fmt.Errorf("endpoint %s: ca %s holds no PEM certificate", ep.Name, ep.CA)
			}
		}
		if cert != nil {
			c, err := cert(snap, ep)
			if err != nil {
				return nil, err
			}
			cfg.Cert = c
		}
		u[ep.Name] = NewTransport(cfg)
	}
	return u, nil
}

var _ io.Closer = Upstreams(nil)
