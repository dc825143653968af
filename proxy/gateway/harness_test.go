package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/httpproxy/httpproxytest"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/gateway/gatewaytest"
)

// canary is the injected secret; tests prove it never leaks.
const canary = "canary-7f3a9c-secret-token"

// harness runs a gateway in-process in front of a recording upstream.
type harness struct {
	t        *testing.T
	dir      string
	up       *httpproxytest.Upstream
	gw       *gateway.Gateway
	logs     *gatewaytest.LogBuffer
	client   *http.Client
	caPool   *x509.CertPool
	proxyURL *url.URL
}

// start writes policy (with UPSTREAM replaced by the upstream's host:port
// and CA_FILE by its certificate file) and starts a gateway on it.
func start(t *testing.T, policy string, extra ...string) *harness {
	t.Helper()
	return startWith(t, policy, nil, extra...)
}

// startWith is start with a hook that adjusts the gateway's options.
func startWith(t *testing.T, policy string, adjust func(*gateway.Options), extra ...string) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), up: httpproxytest.New(t), logs: &gatewaytest.LogBuffer{}}
	caFile := h.up.WriteCA(t, h.dir)
	h.writePolicy(policy, caFile)
	for i := 0; i+1 < len(extra); i += 2 {
		h.write(extra[i], extra[i+1])
	}
	port := 0
	opts := gateway.Options{
		Config:        filepath.Join(h.dir, "ward.star"),
		StateDir:      filepath.Join(h.dir, "state"),
		ProxyPort:     &port,
		LogHandler:    slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}),
		Resolver:      builtins.Resolver{LookupEnv: func(name string) (string, bool) { return canary, name == "TOKEN" }},
		WatchInterval: -1,
	}
	if adjust != nil {
		adjust(&opts)
	}
	gw, err := gateway.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	h.gw = gw
	t.Cleanup(func() { h.close() })
	h.proxyURL = &url.URL{Scheme: "http", Host: gw.ProxyAddr().String()}
	pem, err := os.ReadFile(filepath.Join(h.dir, "state", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	h.caPool = x509.NewCertPool()
	h.caPool.AppendCertsFromPEM(pem)
	h.client = &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(h.proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: h.caPool},
	}, Timeout: 10 * time.Second}
	return h
}

func (h *harness) writePolicy(policy, caFile string) {
	policy = strings.ReplaceAll(policy, "UPSTREAM", h.up.HostPort())
	policy = strings.ReplaceAll(policy, "CA_FILE", caFile)
	h.write("ward.star", policy)
}

func (h *harness) write(name, content string) {
	if err := os.WriteFile(filepath.Join(h.dir, name), []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) close() { h.closeWithin(5 * time.Second) }

// closeWithin stops the gateway, giving requests in flight d to finish.
func (h *harness) closeWithin(d time.Duration) {
	if h.gw == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := h.gw.Close(ctx); err != nil {
		h.t.Errorf("close gateway: %v", err)
	}
	h.gw = nil
}

// url is an upstream URL through its declared host.
func (h *harness) url(path string) string { return "https://" + h.up.HostPort() + path }

// do sends a request through the proxy and returns status and body.
func (h *harness) do(method, target string, body string, header ...string) (int, string, http.Header) {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return resp.StatusCode, string(data), resp.Header
}

// problem decodes ward's JSON error body.
func problem(t *testing.T, body string) map[string]string {
	t.Helper()
	var p map[string]string
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("not a JSON problem: %q", body)
	}
	return p
}

// records returns every audited action.
func (h *harness) records() []audit.Record { return gatewaytest.Records(h.t, h.gw) }

func discard() slog.Handler { return slog.DiscardHandler }

func resolver() builtins.Resolver {
	return builtins.Resolver{LookupEnv: func(name string) (string, bool) { return canary, name == "TOKEN" }}
}
