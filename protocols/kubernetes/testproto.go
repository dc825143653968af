package kubernetes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/starlark/policy"
	"github.com/wardproject/ward/starlark/policytest"
)

// TestProtocol is the kubernetes protocol for `ward test`: the k8s_request
// constructor and fixture decoding, both through Decode.
func TestProtocol() policytest.Protocol {
	return policytest.Protocol{
		Name:     Protocol,
		Builtins: starlark.StringDict{"k8s_request": starlark.NewBuiltin("k8s_request", k8sRequest)},
		Decode:   decodeFixture,
	}
}

// k8sRequest is the test helper k8s_request.
//
//	def k8s_request(method, path, query = "", body = None, endpoint = None,
//	                headers = {}, agent = None):
//
// k8s_request builds the action the gateway would decode from this API
// request: path as kubectl sends it ("/api/v1/namespaces/prod/pods/web-0"),
// query as a raw query string ("command=sh&command=-c&stdin=true") or in
// path after '?'. body is a string, or a dict or list sent as JSON
// (Content-Type application/json unless headers say otherwise). endpoint
// names the kubernetes endpoint; it may be left out when the policy
// declares exactly one. A request the gateway would refuse is an error.
func k8sRequest(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		method, path, query, endpoint string
		body                          starlark.Value = starlark.None
		headers                       *starlark.Dict
		agentArg                      starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "method", &method, "path", &path, "query?", &query,
		"body?", &body, "endpoint?", &endpoint, "headers?", &headers, "agent?", &agentArg); err != nil {
		return nil, err
	}
	fail := func(err error) (starlark.Value, error) { return nil, fmt.Errorf("%s: %w", b.Name(), err) }
	ep, err := policy.ThreadPolicy(thread).EndpointFor(Protocol, endpoint)
	if err != nil {
		return fail(err)
	}
	target := path
	if query != "" {
		if strings.Contains(path, "?") {
			return fail(fmt.Errorf("give the query in path or in query, not both"))
		}
		target += "?" + strings.TrimPrefix(query, "?")
	}
	in := &Input{Method: method, Target: target, Header: http.Header{}}
	if headers != nil {
		for _, item := range headers.Items() {
			k, ok1 := starlark.AsString(item[0])
			v, ok2 := starlark.AsString(item[1])
			if !ok1 || !ok2 {
				return fail(fmt.Errorf("headers must map strings to strings"))
			}
			in.Header.Add(k, v)
		}
	}
	if body != starlark.None {
		s, ok := starlark.AsString(body)
		if !ok {
			if s, err = policy.EncodeJSON(body); err != nil {
				return fail(fmt.Errorf("body: %w", err))
			}
		}
		in.Body = []byte(s)
		if in.Header.Get("Content-Type") == "" {
			in.Header.Set("Content-Type", "application/json")
		}
	}
	if limit := ep.BodyLimit; int64(len(in.Body)) > limit {
		in.Body, in.BodyTruncated = in.Body[:limit], true
	}
	agent, err := policy.UnpackAgent(agentArg)
	if err != nil {
		return fail(err)
	}
	req, err := Decode(in)
	if err != nil {
		return fail(err)
	}
	act := &action.Action{ID: "test", Protocol: Protocol, Endpoint: ep.Name, Agent: agent, Facts: req, Raw: req.Raw(ep.Name)}
	return policy.NewActionValue(act), nil
}

// decodeFixture turns a recorded request back into facts.
func decodeFixture(p *policy.Policy, data json.RawMessage) (*policy.Endpoint, action.Facts, error) {
	var raw Raw
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("raw kubernetes request: %w", err)
	}
	ep, err := p.EndpointFor(Protocol, raw.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	in, err := raw.Input()
	if err != nil {
		return nil, nil, err
	}
	req, err := Decode(in)
	if err != nil {
		return nil, nil, err
	}
	return ep, req, nil
}
