package httpproxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/starlark/policy"
)

// Input is an HTTP request as the decoder reads it, whether it came off the
// wire, from http_request() in a test, or from a recorded fixture.
type Input struct {
	Method string
	Scheme string // "https" (intercepted CONNECT) or "http" (plain proxy request)
	Host   string // the connection's target host, lowercase
	Port   int
	// Target is the request-target in origin form, exactly as sent:
	// "/repos/a/b?per_page=1".
	Target string
	// HostHeader is the Host header as sent; empty if absent.
	HostHeader    string
	Header        http.Header
	Body          []byte // the first body_limit bytes
	BodyTruncated bool
}

// RefusedError is a request that ward will not decide on because servers
// could read it in more than one way, or because it is malformed. The agent
// gets 400 with the reason.
type RefusedError = httprelay.RefusedError

func refuse(format string, args ...any) error { return httprelay.Refuse(format, args...) }

// redactedHeaders never reach hooks, the audit log or fixtures with their
// values.
var redactedHeaders = []string{"Authorization", "Cookie"}

// Redacted is what a redacted header's value reads as.
const Redacted = "[redacted]"

// Decode checks in and turns it into the facts hooks see. ep is the endpoint
// the request is routed to: its injection header is removed (the gateway
// sets it after an allow) and its body limit applies. in.Header is not
// modified.
func Decode(in *Input, ep *policy.Endpoint) (*Request, error) {
	if err := checkMethod(in.Method); err != nil {
		return nil, err
	}
	u, err := checkTarget(in.Target)
	if err != nil {
		return nil, err
	}
	if err := checkHostHeader(in); err != nil {
		return nil, err
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, refuse("malformed query string: %v", err)
	}
	header := httprelay.ForwardedHeaders(in.Header)
	if err := checkHeaderNames(in.Header); err != nil {
		return nil, err
	}
	if err := checkOverrides(in, header, query); err != nil {
		return nil, err
	}
	if err := checkEncoding(in, header); err != nil {
		return nil, err
	}
	if err := checkUpgrade(header); err != nil {
		return nil, err
	}
	req := &Request{
		Method: in.Method, Scheme: in.Scheme, Host: in.Host, Port: in.Port,
		Path: u.Path, RawPath: u.EscapedPath(), RawQuery: u.RawQuery, Query: query,
		Header: factHeaders(header, ep), Body: in.Body, BodyTruncated: in.BodyTruncated,
	}
	if err := req.parseJSON(); err != nil {
		return nil, refuse("%v", err)
	}
	return req, nil
}

func checkMethod(m string) error {
	if m == "" {
		return refuse("empty method")
	}
	for _, c := range []byte(m) {
		// Uppercase only: servers differ on whether "delete" is DELETE.
		if c < 'A' || c > 'Z' {
			return refuse("method %q must be uppercase letters", m)
		}
	}
	if m == http.MethodConnect {
		return refuse("CONNECT inside an intercepted connection")
	}
	return nil
}

// checkTarget parses an origin-form request-target and refuses paths that
// servers resolve differently (see httprelay.CheckTarget).
func checkTarget(target string) (*url.URL, error) { return httprelay.CheckTarget(target) }

// checkHostHeader refuses a Host header naming anything but the
// connection's target.
func checkHostHeader(in *Input) error {
	if in.HostHeader == "" {
		return nil
	}
	host, portStr, err := net.SplitHostPort(in.HostHeader)
	if err != nil {
		host, portStr = in.HostHeader, ""
	}
	host = policy.CanonicalHost(strings.Trim(host, "[]"))
	port := defaultPort(in.Scheme)
	if portStr != "" {
		if port, err = strconv.Atoi(portStr); err != nil {
			return refuse("malformed Host header %q", in.HostHeader)
		}
	}
	if host != in.Host || port != in.Port {
		return refuse("Host header %q differs from the connection's target %s", in.HostHeader, net.JoinHostPort(in.Host, strconv.Itoa(in.Port)))
	}
	return nil
}

func defaultPort(scheme string) int {
	if scheme == "http" {
		return 80
	}
	return 443
}

// factHeaders copies h for hooks: without the endpoint's injection header
// and Proxy-Authorization, with credentials redacted.
func factHeaders(h http.Header, ep *policy.Endpoint) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		out[k] = v
	}
	delete(out, "Proxy-Authorization")
	if ep != nil && ep.Inject != nil {
		delete(out, ep.Inject.Header)
	}
	for _, k := range redactedHeaders {
		if _, ok := out[k]; ok {
			out[k] = []string{Redacted}
		}
	}
	return out
}

// ParseURL splits an absolute URL, as http_request() and fixtures give it,
// into the parts of an Input.
func ParseURL(raw string) (scheme, host string, port int, target string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", 0, "", fmt.Errorf("bad URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", 0, "", fmt.Errorf("bad URL %q: want http:// or https://", raw)
	}
	if u.User != nil {
		return "", "", 0, "", errors.New("URL must not carry credentials")
	}
	host = policy.CanonicalHost(u.Hostname())
	port = defaultPort(u.Scheme)
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return "", "", 0, "", fmt.Errorf("bad URL %q: bad port", raw)
		}
	}
	target = u.EscapedPath()
	if target == "" {
		target = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		target += "?" + u.RawQuery
	}
	return u.Scheme, host, port, target, nil
}
