package postgres

import (
	"encoding/json"
	"fmt"
	"slices"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/postgres/sqlfacts"
	"github.com/wardproject/ward/starlark/policy"
	"github.com/wardproject/ward/starlark/policytest"
)

// TestProtocol is the postgres protocol for `ward test`: the sql
// constructor and fixture decoding, both through the analyzer the wire
// path uses.
func TestProtocol(z *sqlfacts.Analyzer) policytest.Protocol {
	t := &testProto{z: z}
	return policytest.Protocol{
		Name:     "postgres",
		Builtins: starlark.StringDict{"sql": starlark.NewBuiltin("sql", t.sql)},
		Decode:   t.decodeFixture,
	}
}

type testProto struct{ z *sqlfacts.Analyzer }

// sql is the test helper sql.
//
//	def sql(text, endpoint = None, agent = None, in_transaction = False,
//	        database = None, prepared = {}):
//
// sql builds the action the gateway would build for a Query (or Parse) of
// text on a postgres endpoint: endpoint names it (it may be omitted when
// the policy declares one postgres endpoint). prepared maps names of
// statements prepared earlier in the session to their SQL, for EXECUTE.
// Text the gateway refuses (a syntax error, dynamic SQL in a DO block, …)
// is an error, as t.fails can check.
func (p *testProto) sql(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		text          string
		endpoint      string
		agentArg      starlark.Value = starlark.None
		inTransaction bool
		database      string
		preparedArg   *starlark.Dict
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "text", &text, "endpoint?", &endpoint,
		"agent?", &agentArg, "in_transaction?", &inTransaction, "database?", &database, "prepared?", &preparedArg); err != nil {
		return nil, err
	}
	agent, err := policy.UnpackAgent(agentArg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ep, err := policy.ThreadPolicy(thread).EndpointFor("postgres", endpoint)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	raw := &Raw{Endpoint: ep.Name, SQL: text, Database: database, InTransaction: inTransaction}
	if preparedArg != nil {
		raw.Prepared = map[string]string{}
		for _, item := range preparedArg.Items() {
			k, ok1 := starlark.AsString(item[0])
			v, ok2 := starlark.AsString(item[1])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: prepared must map names to SQL strings", b.Name())
			}
			raw.Prepared[k] = v
		}
	}
	q, err := p.build(ep, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return policy.NewActionValue(&action.Action{ID: "test", Protocol: "postgres", Endpoint: ep.Name, Agent: agent, Facts: q, Raw: q.Raw()}), nil
}

// build analyses a recorded or constructed action as the session would.
func (p *testProto) build(ep *policy.Endpoint, raw *Raw) (*Query, error) {
	if limit := ep.Postgres.MaxQuery; int64(len(raw.SQL)) > limit {
		return nil, fmt.Errorf("the statement text is %d bytes, more than max_query (%d bytes)", len(raw.SQL), limit)
	}
	preparedFacts := map[string]*sqlfacts.Statement{}
	names := make([]string, 0, len(raw.Prepared))
	for name := range raw.Prepared {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		a, err := p.z.Analyze(raw.Prepared[name])
		if err != nil {
			return nil, fmt.Errorf("prepared %s: %w", name, err)
		}
		if len(a.Statements) == 1 && a.Statements[0].Prepares == name && a.Statements[0].Prepared != nil {
			preparedFacts[name] = a.Statements[0].Prepared
		} else {
			preparedFacts[name] = a.Prepare()
		}
	}
	a, err := p.z.Analyze(raw.SQL)
	if err == nil {
		a, err = a.Resolve(func(name string) (*sqlfacts.Statement, bool) {
			s, ok := preparedFacts[name]
			return s, ok
		})
	}
	if err != nil {
		return nil, err
	}
	database := raw.Database
	if database == "" {
		database = ep.Postgres.Database
	}
	return &Query{Endpoint: ep.Name, SQL: raw.SQL, User: ep.Postgres.User, Database: database, InTransaction: raw.InTransaction,
		Analysis: a, Prepared: raw.Prepared}, nil
}

// decodeFixture turns a recorded action back into facts, routed to the
// endpoint it was recorded on.
func (p *testProto) decodeFixture(pol *policy.Policy, data json.RawMessage) (*policy.Endpoint, action.Facts, error) {
	var raw Raw
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("raw postgres action: %w", err)
	}
	ep, err := pol.EndpointFor("postgres", raw.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	q, err := p.build(ep, &raw)
	if err != nil {
		return nil, nil, err
	}
	return ep, q, nil
}
