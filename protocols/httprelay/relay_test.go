package httprelay

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

func testEngine(t *testing.T) *proxy.Engine {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ward.star")
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(path, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := proxy.NewSnapshot(context.Background(), p, builtins.Resolver{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "journal")}, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close(); store.Close() })
	return proxy.NewEngine(j, snap, slog.New(slog.DiscardHandler))
}

func TestForwardRewritesInjectsAndScrubs(t *testing.T) {
	var seen *http.Request
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Clone(context.Background())
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		_, _ = io.WriteString(w, "token="+r.Header.Get("Authorization"))
	}))
	defer up.Close()
	base, _ := url.Parse(up.URL + "/prefix")
	rl := New(testEngine(t), slog.New(slog.DiscardHandler))
	ex := &Exchange{ID: "a1", Endpoint: "e", Upstream: base, Transport: NewTransport(TLS{}),
		Rewrite: func(out *http.Request) { out.Header.Set("Authorization", "Bearer secret-value") },
		Secrets: [][]byte{[]byte("Bearer secret-value"), {}},
		Fail:    func(w http.ResponseWriter, status int, reason string) { http.Error(w, reason, status) }}
	req := httptest.NewRequest("GET", "/api/v1/pods?x=1", nil)
	rec := httptest.NewRecorder()
	rl.Forward(rec, req, ex)
	if seen == nil || seen.URL.Path != "/prefix/api/v1/pods" || seen.URL.RawQuery != "x=1" || seen.Header.Get("Authorization") != "Bearer secret-value" {
		t.Fatalf("upstream saw %+v", seen)
	}
	if body := rec.Body.String(); body != "token=*******************" {
		t.Errorf("body = %q: the injected secret is not masked", body)
	}
	if h := rec.Header().Get("X-Echo"); h != "*******************" {
		t.Errorf("header = %q: the injected secret is not masked", h)
	}
}

func TestForwardUpstreamDownUsesTheProtocolsErrorWriter(t *testing.T) {
	rl := New(testEngine(t), slog.New(slog.DiscardHandler))
	dead, _ := url.Parse("http://127.0.0.1:1")
	var status int
	var reason string
	ex := &Exchange{ID: "a2", Endpoint: "e", Upstream: dead, Transport: NewTransport(TLS{}),
		Fail: func(w http.ResponseWriter, s int, r string) { status, reason = s, r; w.WriteHeader(s) }}
	rl.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), ex)
	if status != http.StatusBadGateway || reason != "cannot connect to the upstream" {
		t.Errorf("Fail(%d, %q)", status, reason)
	}
}

func TestIsUpgradeAndCheckQuery(t *testing.T) {
	for _, tc := range []struct {
		conn, up string
		want     bool
	}{
		{"Upgrade", "websocket", true},
		{"keep-alive, upgrade", "SPDY/3.1", true},
		{"keep-alive", "websocket", false},
		{"Upgrade", "", false},
	} {
		h := http.Header{"Connection": {tc.conn}}
		if tc.up != "" {
			h.Set("Upgrade", tc.up)
		}
		if got := IsUpgrade(h); got != tc.want {
			t.Errorf("IsUpgrade(%q, %q) = %v", tc.conn, tc.up, got)
		}
	}
	if _, err := CheckQuery("a=1&a=2", true); err == nil {
		t.Error("a repeated parameter passed CheckQuery(unique)")
	}
	if _, err := CheckQuery("a=1&a=2", false); err != nil {
		t.Errorf("CheckQuery(not unique): %v", err)
	}
	if _, err := CheckQuery("a=%zz", false); err == nil {
		t.Error("a malformed escape passed CheckQuery")
	}
}

// TestForwardDropsRequestTrailers: hooks never see request trailers (the
// server reads them after the body), so none may reach the upstream, where
// some servers merge them into the headers.
func TestForwardDropsRequestTrailers(t *testing.T) {
	var trailer http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		trailer = r.Trailer.Clone()
	}))
	defer up.Close()
	base, _ := url.Parse(up.URL)
	rl := New(testEngine(t), slog.New(slog.DiscardHandler))
	ex := &Exchange{ID: "a3", Endpoint: "e", Upstream: base, Transport: NewTransport(TLS{}),
		Fail: func(w http.ResponseWriter, status int, reason string) { http.Error(w, reason, status) }}
	req := httptest.NewRequest("POST", "/x", io.NopCloser(strings.NewReader("hi")))
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Http-Method-Override": {"DELETE"}}
	rl.Forward(httptest.NewRecorder(), req, ex)
	if len(trailer) != 0 {
		t.Errorf("upstream got request trailers %v", trailer)
	}
}

// TestForwardScrubsResponseTrailers: an upstream that echoes the injected
// credential in a trailer must not hand it to the agent either.
func TestForwardScrubsResponseTrailers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Echo")
		_, _ = io.WriteString(w, "body")
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
	}))
	defer up.Close()
	base, _ := url.Parse(up.URL)
	rl := New(testEngine(t), slog.New(slog.DiscardHandler))
	ex := &Exchange{ID: "a4", Endpoint: "e", Upstream: base, Transport: NewTransport(TLS{}),
		Rewrite: func(out *http.Request) { out.Header.Set("Authorization", "Bearer secret-value") },
		Secrets: [][]byte{[]byte("secret-value")},
		Fail:    func(w http.ResponseWriter, status int, reason string) { http.Error(w, reason, status) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rl.Forward(w, r, ex) }))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := resp.Trailer.Get("X-Echo"); got != "Bearer ************" {
		t.Errorf("trailer X-Echo = %q, want the credential masked", got)
	}
}
