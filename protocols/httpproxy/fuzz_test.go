package httpproxy

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the request reader and the decoder:
// no panic, and whatever is accepted has a path with one reading.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"GET /repos/a/b?x=1 HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
		"DELETE /a/%2e%2e/b HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
		"GET /a%2fb;c HTTP/1.1\r\nHost: api.example.com:443\r\nX-HTTP-Method-Override: PUT\r\n\r\n",
		"PUT /x HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1]\r\n0\r\n\r\n",
		"GET https://api.example.com/x HTTP/1.1\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ep := testEndpoint()
		in, err := readInput(t, raw, ep)
		if err != nil {
			return
		}
		req, err := Decode(in, ep)
		if err != nil {
			return
		}
		for _, seg := range strings.Split(req.Path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("accepted a dot segment: %q", req.Path)
			}
		}
		if strings.Contains(req.Path, "//") || strings.ContainsAny(req.RawPath, `\;`) {
			t.Fatalf("accepted an ambiguous path: %q", req.RawPath)
		}
		if p, err := url.PathUnescape(req.RawPath); err != nil || p != req.Path {
			t.Fatalf("raw path %q does not decode to the path the hook saw (%q)", req.RawPath, req.Path)
		}
		if _, ok := req.Header["X-Api-Key"]; ok {
			t.Fatal("the injection slot reached the facts")
		}
		_ = req.Summary()
		if _, err := req.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}
