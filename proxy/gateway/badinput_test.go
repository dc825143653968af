package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/audit"
)

// rawProxy opens a plain TCP connection to the proxy port.
func (h *harness) rawProxy() net.Conn {
	h.t.Helper()
	c, err := net.DialTimeout("tcp", h.gw.ProxyAddr().String(), 5*time.Second)
	if err != nil {
		h.t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// tunnel CONNECTs to target and completes TLS with serverName as SNI.
func (h *harness) tunnel(target, serverName string) (*tls.Conn, error) {
	c := h.rawProxy()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != 200 {
		c.Close()
		return nil, fmt.Errorf("CONNECT: %s", resp.Status)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: h.caPool, ServerName: serverName})
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// send writes a raw request into an intercepted tunnel and reads the reply.
func (h *harness) send(raw string) (*http.Response, string) {
	h.t.Helper()
	tc, err := h.tunnel(h.up.HostPort(), "127.0.0.1")
	if err != nil {
		h.t.Fatal(err)
	}
	defer tc.Close()
	if _, err := io.WriteString(tc, raw); err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		h.t.Fatalf("read response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestMalformedConnectTargets(t *testing.T) {
	h := start(t, testPolicy)
	for _, target := range []string{"nonsense", "host:0", "host:99999", "host:port", "bad_host!:443", ":443", "[::1"} {
		t.Run(target, func(t *testing.T) {
			c := h.rawProxy()
			defer c.Close()
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: x\r\n\r\n", target)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			// Some targets ward refuses; Go's HTTP server rejects the rest
			// before ward sees them. Either way: 400.
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d body %s", resp.StatusCode, body)
			}
		})
	}
}

func TestAmbiguousRequestsAreRefused(t *testing.T) {
	h := start(t, testPolicy)
	host := h.up.HostPort()
	cases := []struct{ name, raw, want string }{
		{"host header differs", "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", "differs from the connection's target"},
		{"encoded slash", "GET /repos/a%2Fb HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "encoded '/'"},
		{"dot segment", "DELETE /repos/a/../b HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "dot segment"},
		{"encoded dot segment", "DELETE /repos/a/%2e%2e/b HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "dot segment"},
		{"backslash", "GET /a\\b HTTP/1.1\r\nHost: " + host + "\r\n\r\n", ""},
		{"path parameter", "GET /admin;x/users HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "path parameters"},
		{"empty segment", "GET //admin HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "empty segment"},
		{"lowercase method", "delete /x HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "uppercase"},
		{"method override", "GET /x HTTP/1.1\r\nHost: " + host + "\r\nX-HTTP-Method-Override: DELETE\r\n\r\n", "asks for method"},
		{"duplicate JSON key", "GET /x HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 27\r\n\r\n{\"state\":1,\"state\":2,\"a\":3}", "appears twice"},
		{"JSON keys differing in case", "GET /x HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 21\r\n\r\n{\"State\":1,\"state\":2}", "appears twice"},
		{"semicolon query", "GET /x?a=1;b=2 HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "query"},
		{"absolute-form for another host", "GET https://evil.example/x HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "inside a tunnel"},
		{"gzip body the hook cannot read", "POST /x HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00", "Content-Encoding"},
		{"upgrade to h2c", "GET /x HTTP/1.1\r\nHost: " + host + "\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", "only WebSocket"},
		{"repeated method override", "GET /x HTTP/1.1\r\nHost: " + host + "\r\nX-HTTP-Method-Override: GET\r\nX-HTTP-Method-Override: DELETE\r\n\r\n", "asks for method"},
		{"_method form field", "POST /x HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\n_method=DELETE", "asks for method"},
		{"_method query parameter", "POST /x?_method=DELETE HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 0\r\n\r\n", "asks for method"},
		{"JSON followed by more", "POST /x HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 17\r\n\r\n{\"admin\":true} xx", "not one JSON document"},
		{"underscore header name", "GET /x HTTP/1.1\r\nHost: " + host + "\r\nX_HTTP_Method_Override: DELETE\r\n\r\n", "contains '_'"},
		{"doubly encoded dot segment", "GET /a/%252e%252e/admin HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "encoded twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.send(tc.raw)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d body %s, want 400 mentioning %q", resp.StatusCode, body, tc.want)
			}
		})
	}
	if n := len(h.up.Received()); n != 0 {
		t.Errorf("upstream saw %d ambiguous requests", n)
	}
	for _, rec := range h.records() {
		if rec.Verdict != audit.VerdictRefused && !strings.Contains(rec.Reason, "uppercase") {
			// Go's server answers some malformed requests itself; those
			// that reach ward are recorded as refused.
			t.Errorf("record %s verdict %s", rec.Summary, rec.Verdict)
		}
	}
}

func TestSNIMustMatchConnectTarget(t *testing.T) {
	h := start(t, `http(name = "a", hosts = ["a.example", "b.example"], on_request = lambda r: allow())`)
	if _, err := h.tunnel("a.example:443", "b.example"); err == nil {
		t.Fatal("TLS with an SNI that differs from the CONNECT target was accepted")
	}
	tc, err := h.tunnel("a.example:443", "a.example")
	if err != nil {
		t.Fatalf("matching SNI refused: %v", err)
	}
	tc.Close()
}

func TestOversizedHeadersGet431(t *testing.T) {
	h := start(t, testPolicy)
	big := strings.Repeat("x", 100<<10)
	resp, _ := h.send("GET / HTTP/1.1\r\nHost: " + h.up.HostPort() + "\r\nX-Big: " + big + "\r\n\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c := h.rawProxy()
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nX-Big: %s\r\n\r\n", h.up.HostPort(), big)
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized CONNECT: %v %v", r, err)
	}
}

func TestTruncatedBodyAndVanishingClientsLeakNothing(t *testing.T) {
	h := start(t, testPolicy)
	h.do("GET", h.url("/warm"), "") // start the long-lived goroutines first
	h.client.CloseIdleConnections()
	before := runtime.NumGoroutine()

	// A body shorter than its Content-Length, then the client goes away.
	tc, err := h.tunnel(h.up.HostPort(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tc, "POST /x HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\nonly-part", h.up.HostPort())
	tc.Close()
	// A client that disconnects in the middle of the headers.
	c := h.rawProxy()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHo", h.up.HostPort())
	c.Close()
	// One that disconnects during the TLS handshake.
	c = h.rawProxy()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\n", h.up.HostPort())
	_, _ = http.ReadResponse(bufio.NewReader(c), nil)
	_, _ = c.Write([]byte{0x16, 0x03, 0x01})
	c.Close()
	// One that goes silent mid-body while the gateway waits.
	tc, err = h.tunnel(h.up.HostPort(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tc, "POST /x HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", h.up.HostPort())
	time.Sleep(50 * time.Millisecond)
	tc.Close()
	// Garbage instead of HTTP.
	c = h.rawProxy()
	_, _ = c.Write([]byte("\x00\x01\x02garbage\r\n\r\n"))
	_, _ = io.ReadAll(c)
	c.Close()

	// The gateway still serves, and the upstream saw none of it.
	if status, _, _ := h.do("GET", h.url("/after"), ""); status != 200 {
		t.Fatalf("gateway stopped serving: %d", status)
	}
	h.client.CloseIdleConnections()
	for _, r := range h.up.Received() {
		if r.Method == "POST" {
			t.Errorf("upstream got a truncated request: %+v", r)
		}
	}
	waitFor(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= before+2 })
}

func TestShutdownClosesEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	h := start(t, `
gateway(unknown_hosts = "passthrough")
http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"), on_request = lambda r: allow())
`)
	h.do("GET", h.url("/x"), "")
	// An idle intercepted connection, a tunnel, and a half-sent request.
	tc, err := h.tunnel(h.up.HostPort(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := h.rawProxy()
	defer c.Close()
	fmt.Fprintf(c, "CONNECT passthrough.invalid:443 HTTP/1.1\r\n\r\n")
	half := h.rawProxy()
	defer half.Close()
	fmt.Fprintf(half, "GET http://x/ HTTP/1.1\r\n")
	time.Sleep(50 * time.Millisecond)
	h.closeWithin(200 * time.Millisecond)
	h.up.Close()
	h.client.CloseIdleConnections()
	waitFor(t, "goroutines to exit after shutdown", func() bool { return runtime.NumGoroutine() <= before+1 })
}

// TestConnectionNamedHeaderIsNotDecidedOn: a header named in Connection is
// hop-by-hop and never reaches the upstream, so the hook must not see it.
func TestConnectionNamedHeaderIsNotDecidedOn(t *testing.T) {
	h := start(t, `
def check(req):
    if req.headers.get("X-Dry-Run") == "1":
        return allow("dry runs are harmless")
    return deny("only dry runs")

http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"), on_request = check)
`)
	host := h.up.HostPort()
	resp, body := h.send("DELETE /repos/a/b HTTP/1.1\r\nHost: " + host + "\r\nX-Dry-Run: 1\r\nConnection: X-Dry-Run\r\n\r\n")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "only dry runs") {
		t.Errorf("status %d body %s, want the policy's 403", resp.StatusCode, body)
	}
	for _, r := range h.up.Received() {
		if r.Header.Get("X-Dry-Run") != "1" {
			t.Errorf("%s %s reached the upstream without the header the policy allowed it for", r.Method, r.Target)
		}
	}
}

// TestIPv6FormsOfADeclaredIPAreRouted: "[::ffff:127.0.0.1]" is 127.0.0.1;
// with unknown_hosts = "passthrough" it must not tunnel unparsed to a
// service the policy declares under its usual spelling.
func TestIPv6FormsOfADeclaredIPAreRouted(t *testing.T) {
	h := start(t, "gateway(unknown_hosts = \"passthrough\")\n"+testPolicy)
	target := fmt.Sprintf("[::ffff:127.0.0.1]:%d", h.up.Port())
	tc, err := h.tunnel(target, "127.0.0.1")
	if err != nil {
		t.Fatalf("CONNECT %s was not intercepted: %v", target, err)
	}
	defer tc.Close()
	fmt.Fprintf(tc, "DELETE /repos/a/b HTTP/1.1\r\nHost: %s\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("DELETE through %s: status %d, want the policy's 403", target, resp.StatusCode)
	}
	if n := len(h.up.Received()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}
