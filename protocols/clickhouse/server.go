package clickhouse

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/starlark/policy"
)

// Protocol is the name of the protocol in actions and fixtures.
const Protocol = "clickhouse"

// ClickHouse error codes ward answers with.
const (
	CodeAccessDenied = 497 // ACCESS_DENIED: denials and refusals
	CodeNetworkError = 210 // NETWORK_ERROR: the upstream or the gateway failed
)

// NewServer returns the server of the clickhouse endpoint named endpoint:
// plain HTTP, like ClickHouse's own HTTP port.
func NewServer(engine *proxy.Engine, endpoint string, logger *slog.Logger) *httprelay.Gate {
	return httprelay.NewGate(engine, endpoint, protocol{}, nil, logger)
}

// protocol plugs ClickHouse into the HTTP relay.
type protocol struct{}

func (protocol) Name() string { return Protocol }

func (protocol) Decode(ep *policy.Endpoint, in *httprelay.Request) (action.Facts, any, error) {
	q, err := Decode(&Input{Method: in.Method, Target: in.RequestURI, Header: in.Header,
		Body: in.Body, BodyTruncated: in.BodyTruncated})
	if err != nil {
		return nil, nil, err
	}
	return q, q.Raw(ep.Name), nil
}

func (protocol) Exchange(snap *proxy.Snapshot, ep *policy.Endpoint, _ *http.Request) (*httprelay.Exchange, error) {
	ups, err := httprelay.UpstreamsOf(snap, Protocol, nil)
	if err != nil {
		return nil, err
	}
	t := ups[ep.Name]
	if t == nil {
		return nil, fmt.Errorf("endpoint %s has no upstream transport", ep.Name)
	}
	s := ep.ClickHouse
	var password []byte
	if s.Password != nil {
		password = snap.Secret(s.Password)
		if len(password) == 0 {
			return nil, proxy.CredentialUnavailable(ep.Name)
		}
	}
	basic := base64.StdEncoding.EncodeToString([]byte(s.User + ":" + string(password)))
	ex := &httprelay.Exchange{Upstream: s.URL, Transport: t, Secrets: [][]byte{password, []byte(basic)}}
	ex.Rewrite = func(out *http.Request) {
		stripCredentials(out)
		if s.Auth == "headers" {
			out.Header.Set("X-ClickHouse-User", s.User)
			out.Header.Set("X-ClickHouse-Key", string(password))
			return
		}
		out.Header.Set("Authorization", "Basic "+basic)
	}
	return ex, nil
}

// stripCredentials removes whatever credentials the agent sent.
func stripCredentials(out *http.Request) {
	for _, h := range []string{"Authorization", "Proxy-Authorization", "X-Clickhouse-User", "X-Clickhouse-Key"} {
		out.Header.Del(h)
	}
	if q := out.URL.Query(); dropCredentials(q) {
		out.URL.RawQuery = q.Encode()
	}
}

func (protocol) RedactTarget(target string) string { return RedactTarget(target) }

func (protocol) WriteError(w http.ResponseWriter, e httprelay.Error) {
	WriteException(w, e)
}

// WriteException writes e in ClickHouse's HTTP error format:
// "Code: 497. DB::Exception: ward: denied: <reason>. (ACCESS_DENIED)".
func WriteException(w http.ResponseWriter, e httprelay.Error) {
	code, name := CodeAccessDenied, "ACCESS_DENIED"
	if e.Kind == httprelay.ErrGateway || e.Kind == httprelay.ErrUpstream {
		code, name = CodeNetworkError, "NETWORK_ERROR"
	}
	kind := e.Kind
	if kind == httprelay.ErrDenied {
		kind = "denied"
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("X-ClickHouse-Exception-Code", strconv.Itoa(code))
	if e.ActionID != "" {
		h.Set("X-Ward-Action", e.ActionID)
	}
	w.WriteHeader(e.Status)
	msg := strings.ReplaceAll("ward: "+kind+": "+e.Reason, "\n", " ")
	_, _ = fmt.Fprintf(w, "Code: %d. DB::Exception: %s. (%s)\n", code, msg, name)
}

// Prepare builds the upstream transports of snap's clickhouse endpoints,
// so that a bad CA fails the start or the reload rather than a request.
func Prepare(snap *proxy.Snapshot) error {
	_, err := httprelay.UpstreamsOf(snap, Protocol, nil)
	return err
}

var _ httprelay.TargetRedactor = protocol{}
