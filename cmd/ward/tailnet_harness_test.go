package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tailscale.com/ipn/store/mem"
	"tailscale.com/net/netns"
	"tailscale.com/tailcfg"
	"tailscale.com/tsnet"
	"tailscale.com/tstest/integration"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/logger"
)

// testTailnet is an offline tailnet: tailscale's in-process control server
// and DERP/STUN relay on 127.0.0.1, as tsnet's own tests run them.
type testTailnet struct {
	t          *testing.T
	control    *testcontrol.Server
	controlURL string
}

// newTestTailnet starts control and DERP; grants are the app capabilities
// every peer gets (the test control server grants them tailnet-wide).
func newTestTailnet(t *testing.T, grants tailcfg.PeerCapMap) *testTailnet {
	t.Helper()
	netns.SetEnabled(false) // no SO_MARK and friends in tests
	t.Cleanup(func() { netns.SetEnabled(true) })
	derpMap := integration.RunDERPAndSTUN(t, logger.Discard, "127.0.0.1")
	control := &testcontrol.Server{
		DERPMap:        derpMap,
		DNSConfig:      &tailcfg.DNSConfig{Proxied: true},
		MagicDNSDomain: "tail-scale.ts.net",
		// Non-nil: nodes get the tags they request (RequestTags).
		TagOwners: map[string][]string{},
		Logf:      logger.Discard,
	}
	if grants != nil {
		control.SetGlobalAppCaps(grants)
	}
	control.HTTPTestServer = httptest.NewUnstartedServer(control)
	control.HTTPTestServer.Start()
	t.Cleanup(control.HTTPTestServer.Close)
	return &testTailnet{t: t, control: control, controlURL: control.HTTPTestServer.URL}
}

// node brings up an ephemeral tsnet node with an in-memory store.
func (tn *testTailnet) node(ctx context.Context, name string, tags ...string) *tsnet.Server {
	tn.t.Helper()
	s := &tsnet.Server{
		Dir: filepath.Join(tn.t.TempDir(), name), ControlURL: tn.controlURL, Hostname: name,
		Store: new(mem.Store), Ephemeral: true, AdvertiseTags: tags,
	}
	tn.t.Cleanup(func() { s.Close() })
	if _, err := s.Up(ctx); err != nil {
		tn.t.Fatalf("node %s up: %v", name, err)
	}
	waitForHomeDERP(tn.t, ctx, s)
	return s
}

// waitForHomeDERP blocks until s has a home DERP region and has heard from
// it; until then the relay drops frames for s and a fast test races it.
func waitForHomeDERP(t *testing.T, ctx context.Context, s *tsnet.Server) {
	t.Helper()
	h := s.Sys().HealthTracker.Get()
	ms := s.Sys().MagicSock.Get()
	for {
		if r := ms.GetLastNetcheckReport(ctx); r != nil && r.PreferredDERP != 0 &&
			!h.GetDERPRegionReceivedTime(r.PreferredDERP).IsZero() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for home DERP: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tailnetClient is an HTTP client on node s that uses the gateway's proxy
// at proxyAddr (dialled over the tailnet) and trusts the gateway CA.
func tailnetClient(t *testing.T, s *tsnet.Server, proxyAddr, stateDir string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(stateDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr}),
		DialContext:     func(ctx context.Context, network, addr string) (net.Conn, error) { return s.Dial(ctx, network, addr) },
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
}
