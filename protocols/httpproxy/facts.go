package httpproxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/starlark/policy"
)

// Request is the facts of an HTTP action. Hooks (on_request) read:
//
//	method          "GET", "DELETE", … (always uppercase)
//	scheme          "https" or "http"
//	host            lowercase host name or IP, no port
//	port            int
//	path            the decoded path, e.g. "/repos/a/b"
//	url             scheme://host[:port]/path?query, as sent
//	query           dict: name -> list of values
//	headers         case-insensitive mapping; Authorization and Cookie read
//	                "[redacted]"; the injected credential's header is absent
//	body            the first body_limit bytes of the body, as a string
//	body_truncated  True when the body was longer than body_limit
//	json            the body parsed as JSON, or None (also when truncated)
type Request struct {
	Method, Scheme, Host string
	Port                 int
	Path                 string // decoded
	RawPath              string // as sent
	RawQuery             string
	Query                url.Values
	Header               http.Header // redacted
	Body                 []byte
	BodyTruncated        bool

	json    starlark.Value
	query   starlark.Value
	headers starlark.Value
}

var requestAttrs = []string{"body", "body_truncated", "headers", "host", "json", "method", "path", "port", "query", "scheme", "url"}

// parseJSON computes the json fact once, refusing ambiguous documents.
func (r *Request) parseJSON() error {
	r.json = starlark.None
	if r.BodyTruncated || len(r.Body) == 0 {
		return nil
	}
	v, err := policy.JSONValue(r.Body)
	if err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	if v == starlark.None && looksLikeJSON(r.Body) {
		// Streaming decoders (Go's json.Decoder, say) read the first value
		// and ignore what follows, so the upstream may act on a document
		// the hook was shown as None.
		return errors.New("request body starts like JSON but is not one JSON document")
	}
	r.json = v
	return nil
}

// looksLikeJSON reports whether body begins, after white space and a
// byte order mark, like a JSON object or array.
func looksLikeJSON(body []byte) bool {
	body = bytes.TrimPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("\ufeff"))
	body = bytes.TrimLeft(body, " \t\r\n")
	return len(body) > 0 && (body[0] == '{' || body[0] == '[')
}

// Attr returns one fact.
func (r *Request) Attr(name string) (starlark.Value, error) {
	switch name {
	case "method":
		return starlark.String(r.Method), nil
	case "scheme":
		return starlark.String(r.Scheme), nil
	case "host":
		return starlark.String(r.Host), nil
	case "port":
		return starlark.MakeInt(r.Port), nil
	case "path":
		return starlark.String(r.Path), nil
	case "url":
		return starlark.String(r.URL()), nil
	case "query":
		if r.query == nil {
			r.query = policy.StringListDict(r.Query)
		}
		return r.query, nil
	case "headers":
		if r.headers == nil {
			r.headers = NewHeaders(r.Header)
		}
		return r.headers, nil
	case "body":
		return starlark.String(r.Body), nil
	case "body_truncated":
		return starlark.Bool(r.BodyTruncated), nil
	case "json":
		if r.json == nil {
			return starlark.None, nil
		}
		return r.json, nil
	}
	return nil, nil
}

// AttrNames lists the facts.
func (r *Request) AttrNames() []string { return requestAttrs }

// URL is the request's absolute URL with the path and query as sent.
func (r *Request) URL() string {
	u := r.Scheme + "://" + authority(r.Scheme, r.Host, r.Port) + r.RawPath
	if r.RawQuery != "" {
		u += "?" + r.RawQuery
	}
	return u
}

// authority is host[:port] as it goes in a URL or Host header: the port
// only when it is not the scheme's default.
func authority(scheme, host string, port int) string {
	if port != defaultPort(scheme) {
		return net.JoinHostPort(host, strconv.Itoa(port))
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// Summary is the request line with its absolute URL.
func (r *Request) Summary() string { return r.Method + " " + r.URL() }

// String renders the summary.
func (r *Request) String() string { return r.Summary() }

// Type is "http_request".
func (r *Request) Type() string { return "http_request" }

// Freeze is a no-op: facts are read-only.
func (r *Request) Freeze() {}

// Truth is always true.
func (r *Request) Truth() starlark.Bool { return true }

// Hash refuses: facts are not dict keys.
func (r *Request) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: http_request") }

// factsJSON is how a Request is stored in the audit log.
type factsJSON struct {
	Method        string              `json:"method"`
	URL           string              `json:"url"`
	Scheme        string              `json:"scheme"`
	Host          string              `json:"host"`
	Port          int                 `json:"port"`
	Path          string              `json:"path"`
	Query         map[string][]string `json:"query,omitempty"`
	Headers       map[string][]string `json:"headers,omitempty"`
	Body          string              `json:"body,omitempty"`
	BodyBase64    string              `json:"body_base64,omitempty"`
	BodyTruncated bool                `json:"body_truncated,omitempty"`
}

// MarshalJSON encodes the facts for the audit log.
func (r *Request) MarshalJSON() ([]byte, error) {
	f := factsJSON{Method: r.Method, URL: r.URL(), Scheme: r.Scheme, Host: r.Host, Port: r.Port,
		Path: r.Path, Query: r.Query, Headers: r.Header, BodyTruncated: r.BodyTruncated}
	f.Body, f.BodyBase64 = httprelay.EncodeBody(r.Body)
	return json.Marshal(f)
}

// Raw is an HTTP action as recorded for replay: the arguments of
// http_request(). Headers are the ones hooks saw (credentials redacted).
type Raw struct {
	Method        string              `json:"method"`
	URL           string              `json:"url"`
	Headers       map[string][]string `json:"headers,omitempty"`
	Body          string              `json:"body,omitempty"`
	BodyBase64    string              `json:"body_base64,omitempty"`
	BodyTruncated bool                `json:"body_truncated,omitempty"`
}

// Raw returns the request as recorded for fixtures.
func (r *Request) Raw() *Raw {
	raw := &Raw{Method: r.Method, URL: r.URL(), Headers: r.Header, BodyTruncated: r.BodyTruncated}
	raw.Body, raw.BodyBase64 = httprelay.EncodeBody(r.Body)
	return raw
}

// Input turns a recorded request back into decoder input.
func (raw *Raw) Input() (*Input, error) {
	scheme, host, port, target, err := ParseURL(raw.URL)
	if err != nil {
		return nil, err
	}
	body := []byte(raw.Body)
	if raw.BodyBase64 != "" {
		if body, err = base64.StdEncoding.DecodeString(raw.BodyBase64); err != nil {
			return nil, fmt.Errorf("body_base64: %w", err)
		}
	}
	h := make(http.Header, len(raw.Headers))
	for k, v := range raw.Headers {
		h[http.CanonicalHeaderKey(k)] = v
	}
	return &Input{Method: raw.Method, Scheme: scheme, Host: host, Port: port, Target: target,
		Header: h, Body: body, BodyTruncated: raw.BodyTruncated}, nil
}

var _ starlark.HasAttrs = (*Request)(nil)
