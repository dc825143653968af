package httpproxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/starlark/policy"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testEndpoint injects a bearer token, so its Authorization slot is dropped.
func testEndpoint() *policy.Endpoint {
	return &policy.Endpoint{Name: "api", Protocol: "http", BodyLimit: 64,
		Inject: &builtins.Injection{Kind: "header", Header: "X-Api-Key", Secret: &builtins.Secret{Kind: "env", Ref: "K"}}}
}

// readInput parses a raw request as the intercepting server would, for a
// tunnel to api.example.com:443.
func readInput(t testing.TB, raw string, ep *policy.Endpoint) (*Input, error) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return nil, err
	}
	in := &Input{Method: r.Method, Scheme: "https", Host: "api.example.com", Port: 443,
		Target: r.RequestURI, HostHeader: r.Host, Header: r.Header}
	prefix, err := httprelay.ReadPrefix(r.Body, ep.BodyLimit)
	if err != nil {
		return nil, err
	}
	in.Body, in.BodyTruncated = prefix, int64(len(prefix)) > ep.BodyLimit
	if in.BodyTruncated {
		in.Body = prefix[:ep.BodyLimit]
	}
	return in, nil
}

// TestDecodeGolden runs testdata/decode/*.txt: a raw request, a line
// "----", then the facts JSON (or "refused: reason").
func TestDecodeGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/decode/*.txt")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			raw, want, ok := strings.Cut(string(data), "\n----\n")
			if !ok {
				t.Fatal("missing ---- separator")
			}
			raw = strings.ReplaceAll(raw, "\n", "\r\n")
			got := decodeForGolden(t, raw)
			if *update {
				if err := os.WriteFile(file, []byte(strings.ReplaceAll(raw, "\r\n", "\n")+"\n----\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("facts differ (go test -update to accept)\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func decodeForGolden(t *testing.T, raw string) string {
	ep := testEndpoint()
	in, err := readInput(t, raw, ep)
	if err != nil {
		return "unreadable: " + err.Error() + "\n"
	}
	req, err := Decode(in, ep)
	var refused *RefusedError
	if errors.As(err, &refused) {
		return "refused: " + refused.Reason + "\n"
	}
	if err != nil {
		t.Fatal(err)
	}
	facts, err := json.MarshalIndent(req, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(facts) + "\n"
}

func TestHostPatternsAndRouting(t *testing.T) {
	p := &policy.Policy{}
	for _, spec := range []struct{ name, host string }{
		{"exact", "api.example.com"}, {"port", "api.example.com:8443"},
		{"wild", "*.example.com"}, {"deeper", "*.eu.example.com"}, {"plain", "http://svc.internal:8080"}, {"ip", "127.0.0.1:9443"},
		{"v6", "[0:0::1]:9443"}, {"mapped", "[::ffff:10.0.0.1]"},
	} {
		hp, err := policy.ParseHostPattern(spec.host)
		if err != nil {
			t.Fatal(err)
		}
		p.Endpoints = append(p.Endpoints, &policy.Endpoint{Name: spec.name, Protocol: "http", Hosts: []policy.HostPattern{hp}})
	}
	tests := []struct {
		scheme, host string
		port         int
		want         string
	}{
		{"https", "api.example.com", 443, "exact"},
		{"https", "api.example.com", 8443, "port"},
		{"https", "x.example.com", 443, "wild"},
		{"https", "x.eu.example.com", 443, "deeper"},
		{"https", "example.com", 443, ""},
		{"https", "api.example.com", 444, ""},
		{"http", "api.example.com", 80, ""},
		{"http", "svc.internal", 8080, "plain"},
		{"https", "svc.internal", 8080, ""},
		{"https", "127.0.0.1", 9443, "ip"},
		{"https", "evilexample.com", 443, ""},
		{"https", policy.CanonicalHost("0:0:0:0:0:0:0:1"), 9443, "v6"},
		{"https", policy.CanonicalHost("::FFFF:10.0.0.1"), 443, "mapped"},
		{"https", policy.CanonicalHost("10.0.0.1"), 443, "mapped"},
	}
	for _, tt := range tests {
		got := ""
		if ep := p.Route(tt.scheme, tt.host, tt.port); ep != nil {
			got = ep.Name
		}
		if got != tt.want {
			t.Errorf("Route(%s, %s, %d) = %q, want %q", tt.scheme, tt.host, tt.port, got, tt.want)
		}
	}
	for _, bad := range []string{"", "https://a.com/path", "a.com:0", "a.com:x", "user@a.com", "a..com", "*.", "a b"} {
		if _, err := policy.ParseHostPattern(bad); err == nil {
			t.Errorf("ParseHostPattern(%q) accepted", bad)
		}
	}
}

func TestHeadersMapping(t *testing.T) {
	h := NewHeaders(http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}})
	thread := &starlark.Thread{}
	globals, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "t.star", `
assert_eq(h["content-type"], "application/json")
assert_eq(h["CONTENT-TYPE"], "application/json")
assert_eq(h.get("x-multi"), "a, b")
assert_eq(h.get("missing", "d"), "d")
assert_eq("Content-Type" in h, True)
assert_eq("nope" in h, False)
assert_eq(sorted(h.keys()), ["content-type", "x-multi"])
assert_eq(len(h), 2)
assert_eq([k for k in h], ["content-type", "x-multi"])
assert_eq(dict(h.items())["x-multi"], "a, b")
`, starlark.StringDict{"h": h, "assert_eq": starlark.NewBuiltin("assert_eq", assertEq)})
	_ = globals
	if err != nil {
		t.Fatal(err)
	}
}

func assertEq(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if eq, err := starlark.Equal(args[0], args[1]); err != nil || !eq {
		return nil, errors.New(args[0].String() + " != " + args[1].String())
	}
	return starlark.None, nil
}

func TestRawRoundTrip(t *testing.T) {
	ep := testEndpoint()
	in, err := readInput(t, "POST /v1/items?a=1&a=2 HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 4\r\nAuthorization: Bearer x\r\n\r\n\xff\xfe\x00\x01", ep)
	if err != nil {
		t.Fatal(err)
	}
	req, err := Decode(in, ep)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(req.Raw())
	var raw Raw
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	in2, err := raw.Input()
	if err != nil {
		t.Fatal(err)
	}
	req2, err := Decode(in2, ep)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(req)
	b, _ := json.Marshal(req2)
	if !bytes.Equal(a, b) {
		t.Errorf("replayed facts differ:\n%s\n%s", a, b)
	}
	if strings.Contains(string(data), "Bearer x") {
		t.Errorf("raw keeps the agent's credential: %s", data)
	}
}
