package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/proxy"
)

// A judge's secret that is unavailable (a Vault lease that ended) stops
// the snapshot: an empty webhook or signing secret signs nothing, and an
// empty token would fail every question later and less clearly.
func TestJudgeSecretMustBeAvailable(t *testing.T) {
	j := &builtins.Judge{Name: "webhook:https://hooks.example/approve", Pos: "ward.star:3:1"}
	s := &builtins.Secret{Kind: "vault", Ref: "read:secret/hook#key"}
	_, err := judgeSecret(&proxy.Snapshot{}, j, s)
	if err == nil || !strings.Contains(err.Error(), "webhook:https://hooks.example/approve") || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("err = %v", err)
	}
}

// The callback port may face the internet (Slack's Request URL): a client
// that trickles its request or idles must not hold a connection forever.
func TestCallbackServerHasTimeouts(t *testing.T) {
	srv := newCallbackServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Fatalf("callback server limits: read header %s, read %s, write %s, idle %s, header bytes %d",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
}
