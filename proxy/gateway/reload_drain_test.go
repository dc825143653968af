package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/gateway"
)

// TestReloadRemovingABusyEndpointDoesNotHang: a reload that drops an
// endpoint whose listener still has a request in flight (a long query, a
// watch) gives it a grace period, then cuts it off; the reload, and the
// reloads and the shutdown after it, never wait on the agent.
func TestReloadRemovingABusyEndpointDoesNotHang(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	h := start(t, testPolicy)
	h.close()
	h.writePolicy(testPolicy+`
clickhouse(name = "ch", upstream = "http://`+strings.TrimPrefix(slow.URL, "http://")+`", port = 0, on_query = lambda q: allow())
`, filepath.Join(h.dir, "upstream-ca.pem"))
	port := 0
	gw, err := gateway.Start(context.Background(), gateway.Options{
		Config: filepath.Join(h.dir, "ward.star"), StateDir: filepath.Join(h.dir, "state"), ProxyPort: &port,
		LogHandler: discard(), Resolver: resolver(), WatchInterval: -1, DrainTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.gw = gw // the harness closes it
	addr := h.gw.EndpointAddr("ch")
	if addr == nil {
		t.Fatal("clickhouse endpoint not listening")
	}
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr.String() + "/?query=SELECT%201")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("query never reached the upstream")
	}

	h.writePolicy(testPolicy, filepath.Join(h.dir, "upstream-ca.pem"))
	reloaded := make(chan error, 1)
	go func() { reloaded <- h.gw.Reload(context.Background()) }()
	select {
	case err := <-reloaded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reload hangs while the removed endpoint has a request in flight")
	}
	if h.gw.EndpointAddr("ch") != nil {
		t.Error("removed endpoint still listed")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the in-flight request on the removed endpoint was never ended")
	}
	if err := gw.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(context.Background()); err != nil { // a second Close is harmless
		t.Fatal(err)
	}
}
