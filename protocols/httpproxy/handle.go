package httpproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// serveIntercepted handles one request inside an intercepted tunnel.
func (p *Proxy) serveIntercepted(w http.ResponseWriter, r *http.Request) {
	t := r.Context().Value(tunnelKey{}).(tunnel)
	target := r.RequestURI
	if r.URL.IsAbs() {
		// absolute-form inside the tunnel: it must name the tunnel's target.
		if r.URL.Scheme != "https" || !sameAuthority(r.URL.Host, t, "https") {
			WriteProblem(w, http.StatusBadRequest, Problem{Error: ErrRefused,
				Reason: fmt.Sprintf("request for %s inside a tunnel to %s", r.URL.Host, t)})
			return
		}
		target = originForm(target)
	}
	snap := p.engine.Snapshot()
	ep := snap.Policy.Route("https", t.host, t.port)
	if ep == nil {
		// The policy was reloaded and no longer declares this host.
		WriteProblem(w, http.StatusForbidden, Problem{Error: ErrDenied, Reason: "host " + t.String() + " is no longer declared by any endpoint"})
		return
	}
	in := &Input{Method: r.Method, Scheme: "https", Host: t.host, Port: t.port, Target: target, HostHeader: r.Host}
	p.handle(w, r, snap, ep, in, t.agent)
}

// plain handles a plain-HTTP proxy request ("GET http://host/path").
func (p *Proxy) plain(w http.ResponseWriter, r *http.Request) {
	if r.URL.Scheme != "http" {
		WriteProblem(w, http.StatusBadRequest, Problem{Error: ErrRefused, Reason: "send " + r.URL.Scheme + " requests through CONNECT"})
		return
	}
	host, port, err := parseAuthority(hostPort(r.URL.Host, 80))
	if err != nil {
		WriteProblem(w, http.StatusBadRequest, Problem{Error: ErrRefused, Reason: strings.Replace(err.Error(), "CONNECT target", "host", 1)})
		return
	}
	agent, err := p.identify(r)
	if err != nil {
		writeUnidentified(w, err)
		return
	}
	snap := p.engine.Snapshot()
	ep := snap.Policy.Route("http", host, port)
	if ep == nil {
		p.refuseUnknownPlain(w, r, snap, tunnel{host: host, port: port, agent: agent})
		return
	}
	in := &Input{Method: r.Method, Scheme: "http", Host: host, Port: port, Target: originForm(r.RequestURI)}
	p.handle(w, r, snap, ep, in, agent)
}

// refuseUnknownPlain denies a plain request to an undeclared host. Plain
// requests are never passed through unparsed: there is no tunnel to hand
// over, and the request is readable, so unknown_hosts = "passthrough"
// applies to CONNECT only.
func (p *Proxy) refuseUnknownPlain(w http.ResponseWriter, r *http.Request, snap *proxy.Snapshot, t tunnel) {
	act := p.engine.NewAction("http", "", t.agent)
	act.Facts = &Tunnel{Method: r.Method, Host: t.host, Port: t.port, Target: r.RequestURI}
	v := action.Verdict{Reason: fmt.Sprintf("host %s is not declared by any endpoint as http://", t), DecidedBy: "gateway"}
	if err := p.engine.Record(act, audit.VerdictDeny, v); err != nil {
		WriteProblem(w, http.StatusServiceUnavailable, Problem{Error: ErrGateway, Reason: err.Error(), ActionID: act.ID})
		return
	}
	WriteProblem(w, http.StatusForbidden, Problem{Error: ErrDenied, Reason: v.Reason, ActionID: act.ID})
}

// handle reads what the hook needs, decides, records, and forwards.
func (p *Proxy) handle(w http.ResponseWriter, r *http.Request, snap *proxy.Snapshot, ep *policy.Endpoint, in *Input, agent action.Agent) {
	// The agent's proxy credential and whatever it put in the injection
	// slot never go further.
	r.Header.Del("Proxy-Authorization")
	if ep.Inject != nil {
		r.Header.Del(ep.Inject.Header)
	}
	in.Header = r.Header
	prefix, err := httprelay.ReadPrefix(r.Body, ep.BodyLimit)
	if err != nil {
		WriteProblem(w, http.StatusBadRequest, Problem{Error: ErrRefused, Reason: "could not read the request body: " + err.Error()})
		return
	}
	in.Body, in.BodyTruncated = prefix, int64(len(prefix)) > ep.BodyLimit
	if in.BodyTruncated {
		in.Body = prefix[:ep.BodyLimit]
	}

	ctx := r.Context()
	if in.BodyTruncated {
		// Notice an agent that goes away mid-body while this is decided.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer httprelay.ReadAhead(r, httprelay.AheadLimit, cancel)()
	}

	act := p.engine.NewAction("http", ep.Name, agent)
	req, err := Decode(in, ep)
	if err != nil {
		p.refuse(w, act, in, err)
		return
	}
	act.Facts, act.Raw = req, req.Raw()
	d, err := p.engine.Decide(ctx, snap, ep, "on_request", act)
	if err != nil {
		WriteProblem(w, http.StatusServiceUnavailable, Problem{Error: ErrGateway, Reason: err.Error(), ActionID: act.ID})
		return
	}
	if !d.Forward {
		WriteProblem(w, http.StatusForbidden, Problem{Error: ErrDenied, Reason: d.Verdict.Reason, ActionID: act.ID})
		return
	}
	httprelay.Rejoin(r, prefix)
	p.forward.serve(w, r, snap, ep, in, act.ID)
}

// refuse records and answers a request that could not be decoded.
func (p *Proxy) refuse(w http.ResponseWriter, act *action.Action, in *Input, err error) {
	var refused *RefusedError
	reason := err.Error()
	if errors.As(err, &refused) {
		reason = refused.Reason
	}
	act.Facts = &Tunnel{Method: in.Method, Host: in.Host, Port: in.Port, Target: in.Scheme + "://" + authority(in.Scheme, in.Host, in.Port) + in.Target}
	if rerr := p.engine.Record(act, audit.VerdictRefused, action.Verdict{Reason: reason, DecidedBy: "gateway"}); rerr != nil {
		WriteProblem(w, http.StatusServiceUnavailable, Problem{Error: ErrGateway, Reason: rerr.Error(), ActionID: act.ID})
		return
	}
	WriteProblem(w, http.StatusBadRequest, Problem{Error: ErrRefused, Reason: reason, ActionID: act.ID})
}

// originForm strips "scheme://authority" from an absolute-form target.
func originForm(target string) string {
	if i := strings.Index(target, "://"); i >= 0 {
		rest := target[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			if rest[j] == '?' {
				return "/" + rest[j:]
			}
			return rest[j:]
		}
		return "/"
	}
	return target
}

// hostPort joins host and port, adding the default port when absent.
func hostPort(hostport string, dflt int) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), strconv.Itoa(dflt))
}

func sameAuthority(authority string, t tunnel, scheme string) bool {
	host, port, err := parseAuthority(hostPort(authority, defaultPort(scheme)))
	return err == nil && host == t.host && port == t.port
}
