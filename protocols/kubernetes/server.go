package kubernetes

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/ca"
	"github.com/wardproject/ward/starlark/policy"
)

// Protocol is the name of the protocol in actions and fixtures.
const Protocol = "kubernetes"

// NewServer returns the server of the kubernetes endpoint named endpoint:
// HTTPS with a leaf from authority for the name (or IP address) the agent
// dialled, every request decided and relayed to the API server.
func NewServer(engine *proxy.Engine, authority *ca.CA, endpoint string, logger *slog.Logger) *httprelay.Gate {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return authority.Leaf(serverName(hello))
		},
	}
	return httprelay.NewGate(engine, endpoint, protocol{}, cfg, logger)
}

// serverName is the name a leaf is minted for: the SNI, or the local IP
// address the agent connected to (clients send no SNI for IP addresses).
func serverName(hello *tls.ClientHelloInfo) string {
	if hello.ServerName != "" {
		return hello.ServerName
	}
	if hello.Conn != nil {
		if host, _, err := net.SplitHostPort(hello.Conn.LocalAddr().String()); err == nil {
			return host
		}
	}
	return "127.0.0.1"
}

// protocol plugs Kubernetes into the HTTP relay.
type protocol struct{}

func (protocol) Name() string { return Protocol }

func (protocol) Decode(ep *policy.Endpoint, in *httprelay.Request) (action.Facts, any, error) {
	req, err := Decode(&Input{Method: in.Method, Target: in.RequestURI, Header: in.Header,
		Body: in.Body, BodyTruncated: in.BodyTruncated})
	if err != nil {
		return nil, nil, err
	}
	return req, req.Raw(ep.Name), nil
}

func (protocol) Exchange(snap *proxy.Snapshot, ep *policy.Endpoint, _ *http.Request) (*httprelay.Exchange, error) {
	ups, err := httprelay.UpstreamsOf(snap, Protocol, clientCert)
	if err != nil {
		return nil, err
	}
	t := ups[ep.Name]
	if t == nil {
		return nil, fmt.Errorf("endpoint %s has no upstream transport", ep.Name)
	}
	ex := &httprelay.Exchange{Upstream: ep.Kubernetes.Server, Transport: t}
	var secret []byte
	if ep.Inject != nil {
		secret = snap.Secret(ep.Inject.Secret)
		if len(secret) == 0 {
			return nil, proxy.CredentialUnavailable(ep.Name)
		}
		ex.Secrets = [][]byte{secret}
	}
	ex.Rewrite = func(out *http.Request) {
		// The agent holds no credential; whatever it sent goes no further.
		out.Header.Del("Authorization")
		out.Header.Del("Proxy-Authorization")
		if ep.Inject != nil {
			ep.Inject.Apply(out.Header, secret)
		}
	}
	return ex, nil
}

func (protocol) WriteError(w http.ResponseWriter, e httprelay.Error) {
	WriteStatus(w, e)
}

// Prepare builds the upstream transports of snap's kubernetes endpoints,
// so that a bad CA or client certificate fails the start or the reload
// rather than a request.
func Prepare(snap *proxy.Snapshot) error {
	_, err := httprelay.UpstreamsOf(snap, Protocol, clientCert)
	return err
}

// clientCert is the endpoint's client_cert credential, if it has one.
func clientCert(snap *proxy.Snapshot, ep *policy.Endpoint) (*tls.Certificate, error) {
	cc := ep.Kubernetes.ClientCert
	if cc == nil {
		return nil, nil
	}
	cert, err := tls.X509KeyPair(snap.Secret(cc.Cert), snap.Secret(cc.Key))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %s: %s", ep.Name, cc, strings.TrimPrefix(err.Error(), "tls: "))
	}
	return &cert, nil
}
