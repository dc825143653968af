package httpproxy

import (
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

func newForwarder(engine *proxy.Engine, logger *slog.Logger) *forwarder {
	return &forwarder{relay: httprelay.New(engine, logger)}
}

// Prepare builds the upstream transports of snap's http endpoints. The
// gateway calls it before publishing a snapshot, so that a bad CA fails the
// start or the reload rather than a request.
func Prepare(snap *proxy.Snapshot) error {
	_, err := httprelay.UpstreamsOf(snap, "http", nil)
	return err
}

// serve forwards r, which the policy allowed, and records the outcome.
func (f *forwarder) serve(w http.ResponseWriter, r *http.Request, snap *proxy.Snapshot, ep *policy.Endpoint, in *Input, id string) {
	ups, err := httprelay.UpstreamsOf(snap, "http", nil)
	if err != nil {
		WriteProblem(w, http.StatusBadGateway, Problem{Error: ErrGateway, Reason: err.Error(), ActionID: id})
		return
	}
	ex := &httprelay.Exchange{
		ID: id, Endpoint: ep.Name,
		Upstream:  &url.URL{Scheme: in.Scheme, Host: net.JoinHostPort(in.Host, strconv.Itoa(in.Port))},
		Host:      authority(in.Scheme, in.Host, in.Port),
		Transport: ups[ep.Name],
		Fail: func(w http.ResponseWriter, status int, reason string) {
			WriteProblem(w, status, Problem{Error: ErrUpstream, Reason: reason, ActionID: id})
		},
	}
	if ep.Inject != nil {
		secret := snap.Secret(ep.Inject.Secret)
		if len(secret) == 0 {
			// A Vault lease that ended and could not be renewed: fail closed.
			f.relay.Refuse(w, ex, http.StatusBadGateway, proxy.CredentialUnavailable(ep.Name).Error())
			return
		}
		ex.Secrets = ep.Inject.Forms(secret)
		ex.Rewrite = func(out *http.Request) { ep.Inject.Apply(out.Header, secret) }
	}
	f.relay.Forward(w, r, ex)
}
