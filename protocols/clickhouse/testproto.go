package clickhouse

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/starlark/policy"
	"github.com/wardproject/ward/starlark/policytest"
)

// TestProtocol is the clickhouse protocol for `ward test`: the
// clickhouse_query constructor and fixture decoding, both through Decode.
func TestProtocol() policytest.Protocol {
	return policytest.Protocol{
		Name:     Protocol,
		Builtins: starlark.StringDict{"clickhouse_query": starlark.NewBuiltin("clickhouse_query", clickhouseQuery)},
		Decode:   decodeFixture,
	}
}

// clickhouseQuery is the test helper clickhouse_query.
//
//	def clickhouse_query(sql, endpoint = None, params = {}, agent = None):
//
// clickhouse_query builds the action the gateway would decode from sql
// POSTed to the endpoint's HTTP interface, with params as URL parameters
// (settings, default_format, database, param_<name>, or a "query" that
// the body continues). endpoint names the clickhouse endpoint; it may be
// left out when the policy declares exactly one. A query the gateway
// would refuse (one that cannot be parsed, say) is an error.
func clickhouseQuery(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sql, endpoint string
		params        *starlark.Dict
		agentArg      starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "sql", &sql, "endpoint?", &endpoint,
		"params?", &params, "agent?", &agentArg); err != nil {
		return nil, err
	}
	fail := func(err error) (starlark.Value, error) { return nil, fmt.Errorf("%s: %w", b.Name(), err) }
	ep, err := policy.ThreadPolicy(thread).EndpointFor(Protocol, endpoint)
	if err != nil {
		return fail(err)
	}
	q := url.Values{}
	if params != nil {
		for _, item := range params.Items() {
			k, ok1 := starlark.AsString(item[0])
			v, ok2 := starlark.AsString(item[1])
			if !ok1 || !ok2 {
				return fail(fmt.Errorf("params must map strings to strings"))
			}
			q.Set(k, v)
		}
	}
	target := "/"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	in := &Input{Method: http.MethodPost, Target: target, Header: http.Header{}, Body: []byte(sql)}
	if int64(len(in.Body)) > ep.BodyLimit {
		in.Body, in.BodyTruncated = in.Body[:ep.BodyLimit], true
	}
	agent, err := policy.UnpackAgent(agentArg)
	if err != nil {
		return fail(err)
	}
	query, err := Decode(in)
	if err != nil {
		return fail(err)
	}
	act := &action.Action{ID: "test", Protocol: Protocol, Endpoint: ep.Name, Agent: agent, Facts: query, Raw: query.Raw(ep.Name)}
	return policy.NewActionValue(act), nil
}

// decodeFixture turns a recorded request back into facts.
func decodeFixture(p *policy.Policy, data json.RawMessage) (*policy.Endpoint, action.Facts, error) {
	var raw Raw
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("raw clickhouse request: %w", err)
	}
	ep, err := p.EndpointFor(Protocol, raw.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	q, err := Decode(raw.Input())
	if err != nil {
		return nil, nil, err
	}
	return ep, q, nil
}
