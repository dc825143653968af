// Package kubernetes is ward's Kubernetes API endpoint: agents reach it on a
// port of the gateway with a kubeconfig that holds no credential; every
// request is decoded with the API server's own request-info rules, decided
// by the endpoint's on_request hook, and relayed (watches streamed,
// exec/attach/port-forward upgrades passed through) to the real API server
// with the real credential. Denials are Kubernetes Status objects.
package kubernetes

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
	"sigs.k8s.io/yaml"

	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/starlark/policy"
)

// Input is a request as the decoder reads it, whether it came off the wire,
// from k8s_request() in a test, or from a recorded fixture.
type Input = httprelay.Input

// Impersonation headers, as the API server names them.
const (
	headerImpersonateUser  = "Impersonate-User"
	headerImpersonateUID   = "Impersonate-Uid"
	headerImpersonateGroup = "Impersonate-Group"
	headerImpersonateExtra = "Impersonate-Extra-"
)

// listParams may be given more than once (the API server reads them as
// lists); any other query parameter given twice is refused, since servers
// differ on which one counts.
var listParams = map[string]bool{"command": true, "ports": true, "dryRun": true}

// requestInfo is the API server's own resolver, configured as
// kube-apiserver configures it.
func requestInfo() *request.RequestInfoFactory {
	return &request.RequestInfoFactory{
		APIPrefixes:          sets.NewString("api", "apis"),
		GrouplessAPIPrefixes: sets.NewString("api"),
	}
}

// Decode checks in and turns it into the facts hooks see. It refuses
// (*httprelay.RefusedError) what the API server could read differently
// from the facts.
func Decode(in *Input) (*Request, error) {
	if err := checkMethod(in.Method); err != nil {
		return nil, err
	}
	u, err := httprelay.CheckTarget(in.Target)
	if err != nil {
		return nil, err
	}
	query, err := httprelay.CheckQuery(u.RawQuery, false)
	if err != nil {
		return nil, err
	}
	for k, v := range query {
		if len(v) > 1 && !listParams[k] {
			return nil, httprelay.Refuse("query parameter %q is given %d times", k, len(v))
		}
	}
	ri, err := requestInfo().NewRequestInfo(&http.Request{Method: in.Method, URL: u})
	if err != nil {
		return nil, httprelay.Refuse("%v", err)
	}
	req := &Request{
		Method: in.Method, ResourceRequest: ri.IsResourceRequest, Verb: ri.Verb,
		APIGroup: ri.APIGroup, APIVersion: ri.APIVersion, Resource: ri.Resource, Subresource: ri.Subresource,
		Namespace: ri.Namespace, Name: ri.Name, Path: ri.Path, Target: in.Target, Query: query,
		LabelSelector: ri.LabelSelector, FieldSelector: ri.FieldSelector,
		Body: in.Body, BodyTruncated: in.BodyTruncated,
	}
	for _, v := range query["dryRun"] {
		req.DryRun = req.DryRun || v == "All"
	}
	if err := req.streamOptions(query); err != nil {
		return nil, err
	}
	header := httprelay.ForwardedHeaders(in.Header)
	if err := req.headers(header); err != nil {
		return nil, err
	}
	if err := req.parseBody(header.Get("Content-Type")); err != nil {
		return nil, err
	}
	return req, nil
}

func checkMethod(m string) error {
	if m == "" {
		return httprelay.Refuse("empty method")
	}
	for _, c := range []byte(m) {
		if c < 'A' || c > 'Z' {
			return httprelay.Refuse("method %q must be uppercase letters", m)
		}
	}
	if m == http.MethodConnect {
		return httprelay.Refuse("CONNECT to a Kubernetes endpoint")
	}
	return nil
}

// streamOptions reads the parameters of exec, attach, log and
// portforward as the API server converts them (PodExecOptions,
// PodAttachOptions, PodLogOptions, PodPortForwardOptions).
func (r *Request) streamOptions(q url.Values) error {
	if !r.ResourceRequest || r.Resource != "pods" || r.APIGroup != "" {
		return nil
	}
	switch r.Subresource {
	case "exec", "attach":
		if r.Subresource == "exec" {
			r.Command = q["command"]
		}
		r.Container = q.Get("container")
		r.Stdin, r.Stdout = queryBool(q["stdin"]), queryBool(q["stdout"])
		r.Stderr, r.TTY = queryBool(q["stderr"]), queryBool(q["tty"])
	case "log":
		r.Container = q.Get("container")
	case "portforward":
		for _, v := range q["ports"] {
			p, err := strconv.ParseInt(v, 10, 32)
			if err != nil || p < 1 || p > 65535 {
				return httprelay.Refuse("portforward: bad port %q", v)
			}
			r.Ports = append(r.Ports, int(p))
		}
	}
	return nil
}

// queryBool is the API server's conversion of a query parameter to a
// bool: absent, "0" and "false" (any case) are false; anything else,
// the empty string included, is true.
func queryBool(v []string) bool {
	if len(v) == 0 {
		return false
	}
	return v[0] != "0" && !strings.EqualFold(v[0], "false")
}

// headers reads the upgrade and impersonation headers.
func (r *Request) headers(h http.Header) error {
	for name, vals := range h {
		if decodedHeader(name) {
			if r.header == nil {
				r.header = map[string][]string{}
			}
			r.header[name] = vals
		}
	}
	if httprelay.IsUpgrade(h) {
		up := h.Get("Upgrade")
		switch {
		case strings.EqualFold(up, "websocket"):
			r.Upgrade = "websocket"
		case strings.HasPrefix(strings.ToUpper(up), "SPDY/"):
			r.Upgrade = "spdy"
		default:
			return httprelay.Refuse("upgrade to %q is not a Kubernetes streaming protocol", up)
		}
	}
	for name, vals := range h {
		switch {
		case name == headerImpersonateUser || name == headerImpersonateUID:
			if len(vals) > 1 {
				return httprelay.Refuse("header %s is given %d times", name, len(vals))
			}
			v := vals[0]
			if name == headerImpersonateUser {
				r.ImpersonateUser = &v
			} else {
				r.ImpersonateUID = &v
			}
		case name == headerImpersonateGroup:
			r.ImpersonateGroups = vals
		case strings.HasPrefix(name, headerImpersonateExtra):
			key := strings.ToLower(name[len(headerImpersonateExtra):])
			if k, err := url.PathUnescape(key); err == nil {
				key = k
			}
			if r.ImpersonateExtra == nil {
				r.ImpersonateExtra = map[string][]string{}
			}
			r.ImpersonateExtra[key] = append(r.ImpersonateExtra[key], vals...)
		}
	}
	return nil
}

// parseBody sets body_format and json.
func (r *Request) parseBody(contentType string) error {
	r.ContentType = contentType
	if len(r.Body) == 0 && !r.BodyTruncated {
		return nil
	}
	r.BodyFormat = bodyFormat(contentType)
	if r.BodyTruncated {
		return nil
	}
	data := r.Body
	switch r.BodyFormat {
	case "json":
	case "yaml":
		j, err := yaml.YAMLToJSONStrict(r.Body)
		if err != nil {
			return httprelay.Refuse("request body is not valid YAML: %v", err)
		}
		data = j
	default:
		return nil
	}
	v, err := policy.JSONValue(data)
	if err != nil {
		return httprelay.Refuse("request body: %v", err)
	}
	r.json = v
	return nil
}

// bodyFormat names the encoding of a body of the given Content-Type. The
// API server decodes a body without Content-Type as JSON, its first
// supported media type.
func bodyFormat(contentType string) string {
	if contentType == "" {
		return "json"
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "other"
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return "json"
	case mt == "application/yaml" || strings.HasSuffix(mt, "+yaml"):
		return "yaml"
	case mt == "application/vnd.kubernetes.protobuf" || strings.HasSuffix(mt, "+protobuf"):
		return "protobuf"
	case mt == "application/cbor" || strings.HasSuffix(mt, "+cbor"):
		return "cbor"
	}
	return "other"
}
