package httpproxy

import (
	"context"
	"net/http"
	"testing"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/starlark/policy"
)

// BenchmarkQuickstartHook is one evaluation of the quickstart policy's
// hook on a decoded GET, as the gateway runs it (thread, limits, verdict).
func BenchmarkQuickstartHook(b *testing.B) {
	p, err := policy.Load("../../examples/quickstart/ward.star", policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ep := p.Endpoint("github")
	in := &Input{Method: "GET", Scheme: "https", Host: "api.github.com", Port: 443,
		Target: "/repos/golang/go/issues?state=open", Header: http.Header{"Accept": {"application/json"}}}
	req, err := Decode(in, ep)
	if err != nil {
		b.Fatal(err)
	}
	act := &action.Action{ID: "a1", Protocol: "http", Endpoint: "github", Agent: action.LocalAgent(""), Facts: req}
	hook := ep.Hooks[ep.Hook]
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if v := p.Call(ctx, hook, act).Verdict; !v.Allowed {
			b.Fatal(v.Reason)
		}
	}
}

// BenchmarkDecode is the decoder on a typical API request.
func BenchmarkDecode(b *testing.B) {
	ep := &policy.Endpoint{Name: "github", BodyLimit: 1 << 20}
	h := http.Header{"Accept": {"application/json"}, "User-Agent": {"agent/1.0"}, "Authorization": {"token x"}}
	b.ReportAllocs()
	for b.Loop() {
		in := &Input{Method: "GET", Scheme: "https", Host: "api.github.com", Port: 443,
			Target: "/repos/golang/go/issues?state=open&per_page=10", Header: h}
		if _, err := Decode(in, ep); err != nil {
			b.Fatal(err)
		}
	}
}
