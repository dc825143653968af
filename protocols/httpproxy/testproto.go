package httpproxy

import (
	"encoding/json"
	"fmt"
	"net/http"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/starlark/policy"
	"github.com/wardproject/ward/starlark/policytest"
)

// defaultBodyLimit applies to test requests no endpoint declares.
const defaultBodyLimit = 1 << 20

// TestProtocol is the http protocol for `ward test`: the http_request
// constructor and fixture decoding, both through Decode.
func TestProtocol() policytest.Protocol {
	return policytest.Protocol{
		Name:     "http",
		Builtins: starlark.StringDict{"http_request": starlark.NewBuiltin("http_request", httpRequest)},
		Decode:   decodeFixture,
	}
}

// httpRequest is the test helper http_request.
//
//	def http_request(method, url, headers = {}, body = "", agent = None):
//
// http_request builds the action the gateway would decode from this
// request: routed to the endpoint that declares the URL's host (its
// injection header dropped, its body limit applied), refused with an error
// when the gateway would refuse it. agent is a name or a dict with name,
// user, tags and addr; by default the local identity.
func httpRequest(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		method, rawURL string
		headers        *starlark.Dict
		body           starlark.Value = starlark.String("")
		agentArg       starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "method", &method, "url", &rawURL,
		"headers?", &headers, "body?", &body, "agent?", &agentArg); err != nil {
		return nil, err
	}
	scheme, host, port, target, err := ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	in := &Input{Method: method, Scheme: scheme, Host: host, Port: port, Target: target, Header: http.Header{}}
	if headers != nil {
		for _, item := range headers.Items() {
			k, ok1 := starlark.AsString(item[0])
			v, ok2 := starlark.AsString(item[1])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: headers must map strings to strings", b.Name())
			}
			in.Header.Add(k, v)
		}
	}
	bodyStr, ok := starlark.AsString(body)
	if !ok {
		data, err := policy.EncodeJSON(body)
		if err != nil {
			return nil, fmt.Errorf("%s: body: %w", b.Name(), err)
		}
		bodyStr = data
	}
	agent, err := policy.UnpackAgent(agentArg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	p := policy.ThreadPolicy(thread)
	var ep *policy.Endpoint
	if p != nil {
		ep = p.Route(scheme, host, port)
	}
	in.Body = []byte(bodyStr)
	limit := int64(defaultBodyLimit)
	if ep != nil {
		limit = ep.BodyLimit
	}
	if int64(len(in.Body)) > limit {
		in.Body, in.BodyTruncated = in.Body[:limit], true
	}
	req, err := Decode(in, ep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	act := &action.Action{ID: "test", Protocol: "http", Agent: agent, Facts: req, Raw: req.Raw()}
	if ep != nil {
		act.Endpoint = ep.Name
	}
	return policy.NewActionValue(act), nil
}

// decodeFixture turns a recorded request back into facts.
func decodeFixture(p *policy.Policy, raw json.RawMessage) (*policy.Endpoint, action.Facts, error) {
	var r Raw
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, nil, fmt.Errorf("raw http request: %w", err)
	}
	in, err := r.Input()
	if err != nil {
		return nil, nil, err
	}
	ep := p.Route(in.Scheme, in.Host, in.Port)
	if ep == nil {
		return nil, nil, fmt.Errorf("no endpoint declares %s://%s", in.Scheme, authority(in.Scheme, in.Host, in.Port))
	}
	req, err := Decode(in, ep)
	if err != nil {
		return nil, nil, err
	}
	return ep, req, nil
}
