package httprelay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// Limits on what agents may send to a gate.
const (
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Kinds of Error.
const (
	ErrDenied   = "denied by policy"
	ErrRefused  = "refused"
	ErrUpstream = "upstream error"
	ErrGateway  = "gateway error"
)

// Error is a response of ward's own that a protocol writes in its shape.
type Error struct {
	Status   int
	Kind     string // ErrDenied, ErrRefused, ErrUpstream or ErrGateway
	Reason   string
	ActionID string
}

// Request is an agent's request as a Decoder reads it: the request itself
// (its body not yet read past Body) and the first body_limit bytes.
type Request struct {
	*http.Request
	Body          []byte
	BodyTruncated bool
}

// Protocol is what a Gate needs from the protocol it serves.
type Protocol interface {
	// Name is the protocol's name in actions: "kubernetes", "clickhouse".
	Name() string
	// Decode turns a request into the facts hooks see and the raw action
	// recorded for fixtures. A *RefusedError refuses the request.
	Decode(ep *policy.Endpoint, in *Request) (facts action.Facts, raw any, err error)
	// Exchange says how an allowed request goes upstream, from what the
	// protocol prepared for snap.
	Exchange(snap *proxy.Snapshot, ep *policy.Endpoint, r *http.Request) (*Exchange, error)
	// WriteError writes e in the protocol's error shape.
	WriteError(w http.ResponseWriter, e Error)
}

// TargetRedactor is implemented by a Protocol whose request-targets can
// carry the agent's credentials: RedactTarget returns the target without
// them, for the audit record of a request refused before decoding.
type TargetRedactor interface {
	RedactTarget(target string) string
}

// Gate serves one endpoint that speaks HTTP on a port of its own. It looks
// the endpoint up by name in the engine's current snapshot for every
// request, so reloads take effect on the next request.
type Gate struct {
	engine   *proxy.Engine
	endpoint string
	proto    Protocol
	relay    *Relay
	logger   *slog.Logger
	// Identify names the agent behind a request from the accepted
	// connection and the credential in its Authorization header (Basic:
	// agent name and password; Bearer: the password alone). The default is
	// the engine's: the tailnet peer, a declared agent, or "local".
	Identify proxy.Identifier

	srv    *http.Server
	tls    *tls.Config
	cancel context.CancelFunc
}

// NewGate returns a gate for the endpoint named endpoint. With tlsConfig
// it serves HTTPS (HTTP/2 and HTTP/1.1), otherwise plain HTTP.
func NewGate(engine *proxy.Engine, endpoint string, proto Protocol, tlsConfig *tls.Config, logger *slog.Logger) *Gate {
	base, cancel := context.WithCancel(context.Background())
	g := &Gate{engine: engine, endpoint: endpoint, proto: proto, relay: New(engine, logger), logger: logger,
		tls: tlsConfig, cancel: cancel,
		Identify: engine.Identify}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
		MaxHeaderBytes: maxHeaderBytes, TLSConfig: tlsConfig,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return base },
		ConnContext: proxy.WithConn}
	return g
}

// Serve accepts connections on l until Shutdown.
func (g *Gate) Serve(l net.Listener) error {
	var err error
	if g.tls != nil {
		err = g.srv.ServeTLS(l, "", "")
	} else {
		err = g.srv.Serve(l)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits for requests in flight until ctx ends,
// then ends every connection, upgraded streams included.
func (g *Gate) Shutdown(ctx context.Context) error {
	err := g.srv.Shutdown(ctx)
	g.cancel()
	if err != nil {
		g.srv.Close()
	}
	return err
}

// ServeHTTP decodes, decides, records and forwards one request.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	agent, err := g.identify(r)
	if err != nil {
		g.proto.WriteError(w, Error{Status: http.StatusUnauthorized, Kind: ErrRefused, Reason: err.Error()})
		return
	}
	snap := g.engine.Snapshot()
	ep := snap.Policy.Endpoint(g.endpoint)
	if ep == nil || ep.Protocol != g.proto.Name() {
		g.proto.WriteError(w, Error{Status: http.StatusServiceUnavailable, Kind: ErrGateway,
			Reason: fmt.Sprintf("endpoint %s is no longer declared as %s", g.endpoint, g.proto.Name())})
		return
	}
	in := &Request{Request: r}
	prefix, err := ReadPrefix(r.Body, ep.BodyLimit)
	if err != nil {
		g.proto.WriteError(w, Error{Status: http.StatusBadRequest, Kind: ErrRefused, Reason: "could not read the request body: " + err.Error()})
		return
	}
	in.Body, in.BodyTruncated = prefix, int64(len(prefix)) > ep.BodyLimit
	if in.BodyTruncated {
		in.Body = prefix[:ep.BodyLimit]
	}
	act := g.engine.NewAction(g.proto.Name(), ep.Name, agent)
	facts, raw, err := g.proto.Decode(ep, in)
	if err != nil {
		g.refuse(w, r, act, err)
		return
	}
	act.Facts, act.Raw = facts, raw
	ctx := r.Context()
	if in.BodyTruncated {
		// Notice an agent that goes away mid-body while this is decided.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer ReadAhead(r, AheadLimit, cancel)()
	}
	d, err := g.engine.Decide(ctx, snap, ep, ep.Hook, act)
	if err != nil {
		g.proto.WriteError(w, Error{Status: http.StatusServiceUnavailable, Kind: ErrGateway, Reason: err.Error(), ActionID: act.ID})
		return
	}
	if !d.Forward {
		g.proto.WriteError(w, Error{Status: http.StatusForbidden, Kind: ErrDenied, Reason: d.Verdict.Reason, ActionID: act.ID})
		return
	}
	Rejoin(r, prefix)
	ex, err := g.proto.Exchange(snap, ep, r)
	if err != nil {
		g.engine.Complete(audit.Completion{ID: act.ID, Status: http.StatusBadGateway, Error: err.Error()})
		g.proto.WriteError(w, Error{Status: http.StatusBadGateway, Kind: ErrGateway, Reason: err.Error(), ActionID: act.ID})
		return
	}
	ex.ID, ex.Endpoint = act.ID, ep.Name
	if ex.Fail == nil {
		ex.Fail = func(w http.ResponseWriter, status int, reason string) {
			g.proto.WriteError(w, Error{Status: status, Kind: ErrUpstream, Reason: reason, ActionID: act.ID})
		}
	}
	g.relay.Forward(w, r, ex)
}

// refuse records and answers a request that could not be decoded.
func (g *Gate) refuse(w http.ResponseWriter, r *http.Request, act *action.Action, err error) {
	var refused *RefusedError
	reason := err.Error()
	if errors.As(err, &refused) {
		reason = refused.Reason
	}
	target := r.RequestURI
	if red, ok := g.proto.(TargetRedactor); ok {
		target = red.RedactTarget(target)
	}
	act.Facts = &Unparsed{Method: r.Method, Target: target}
	if rerr := g.engine.Record(act, audit.VerdictRefused, action.Verdict{Reason: reason, DecidedBy: "gateway"}); rerr != nil {
		g.proto.WriteError(w, Error{Status: http.StatusServiceUnavailable, Kind: ErrGateway, Reason: rerr.Error(), ActionID: act.ID})
		return
	}
	g.proto.WriteError(w, Error{Status: http.StatusBadRequest, Kind: ErrRefused, Reason: reason, ActionID: act.ID})
}
