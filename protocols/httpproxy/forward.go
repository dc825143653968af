package httpproxy

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/starlark/policy"
)

// forwarder sends allowed requests upstream with the endpoint's credential
// and relays the response, scrubbing the credential out of it. The relay
// itself is shared with the other HTTP protocols (httprelay).
type forwarder struct {
	relay *httprelay.Relay
}

// upstreams is the per-snapshot state: one transport per endpoint.
type upstreams struct {
	transports map[*policy.Endpoint]*httprelay.Transport
}

// Close drops the idle upstream connections of a retired snapshot.
func (u *upstreams) Close() error {
	for _, t := range u.transports {
		t.CloseIdleConnections()
	}
	return nil
}

func newForwarder(engine *proxy.Engine, logger *slog.Logger) *forwarder {
	return &forwarder{relay: httprelay.New(engine, logger)}
}

// Prepare builds the upstream transports of snap's http endpoints. The
// gateway calls it before publishing a snapshot, so that a bad CA fails the
// start or the reload rather than a request.
func Prepare(snap *proxy.Snapshot) error {
	_, err := upstreamsOf(snap)
	return err
}

func upstreamsOf(snap *proxy.Snapshot) (*upstreams, error) {
	v, err := snap.State("http", func() (any, error) { return buildUpstreams(snap) })
	if err != nil {
		return nil, err
	}
	return v.(*upstreams), nil
}

func buildUpstreams(snap *proxy.Snapshot) (*upstreams, error) {
	u := &upstreams{transports: make(map[*policy.Endpoint]*httprelay.Transport)}
	for _, ep := range snap.Policy.Endpoints {
		if ep.Protocol != "http" {
			continue
		}
		var roots *x509.CertPool
		if ep.CA != nil {
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(snap.Secret(ep.CA)) {
				return nil, fmt.Errorf("endpoint %s: ca %s holds no PEM certificate", ep.Name, ep.CA)
			}
		}
		u.transports[ep] = httprelay.NewTransport(httprelay.TLS{Roots: roots})
	}
	return u, nil
}

// serve forwards r, which the policy allowed, and records the outcome.
func (f *forwarder) serve(w http.ResponseWriter, r *http.Request, snap *proxy.Snapshot, ep *policy.Endpoint, in *Input, id string) {
	ups, err := upstreamsOf(snap)
	if err != nil {
		WriteProblem(w, http.StatusBadGateway, Problem{Error: ErrGateway, Reason: err.Error(), ActionID: id})
		return
	}
	ex := &httprelay.Exchange{
		ID: id, Endpoint: ep.Name,
		Upstream:  &url.URL{Scheme: in.Scheme, Host: net.JoinHostPort(in.Host, strconv.Itoa(in.Port))},
		Host:      authority(in.Scheme, in.Host, in.Port),
		Transport: ups.transports[ep],
		Fail: func(w http.ResponseWriter, status int, reason string) {
			WriteProblem(w, status, Problem{Error: ErrUpstream, Reason: reason, ActionID: id})
		},
	}
	if ep.Inject != nil {
		secret := snap.Secret(ep.Inject.Secret)
		ex.Secrets = injectedForms(ep, secret)
		ex.Rewrite = func(out *http.Request) { ep.Inject.Apply(out.Header, secret) }
	}
	f.relay.Forward(w, r, ex)
}

// injectedForms are the byte strings that reveal the endpoint's credential.
func injectedForms(ep *policy.Endpoint, secret []byte) [][]byte {
	forms := [][]byte{secret}
	if ep.Inject.Kind == "basic" {
		forms = append(forms, []byte(base64.StdEncoding.EncodeToString([]byte(ep.Inject.User+":"+string(secret)))))
	}
	return forms
}
