package httprelay

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/starlark/policy"
)

func snapshotOf(t *testing.T, src string, env map[string]string) *proxy.Snapshot {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ward.star")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(path, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := proxy.NewSnapshot(context.Background(), p, builtins.Resolver{LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestUpstreamsOf(t *testing.T) {
	src := `
clickhouse(name = "a", upstream = "https://127.0.0.1:1", port = 0, ca = secrets.env("CA"), on_query = lambda q: allow())
clickhouse(name = "b", upstream = "http://127.0.0.1:2", port = 0, on_query = lambda q: allow())
`
	snap := snapshotOf(t, src, map[string]string{"CA": "not a certificate"})
	if _, err := UpstreamsOf(snap, "clickhouse", nil); err == nil || !strings.Contains(err.Error(), "endpoint a: ca") {
		t.Errorf("a CA without PEM: got %v", err)
	}

	snap = snapshotOf(t, strings.Replace(src, `ca = secrets.env("CA"), `, "", 1), nil)
	certErr := errors.New("endpoint b: no key")
	cert := func(_ *proxy.Snapshot, ep *policy.Endpoint) (*tls.Certificate, error) {
		if ep.Name == "b" {
			return nil, certErr
		}
		return nil, nil
	}
	if _, err := UpstreamsOf(snap, "clickhouse", cert); !errors.Is(err, certErr) {
		t.Errorf("a failing certificate: got %v", err)
	}
	snap = snapshotOf(t, strings.Replace(src, `ca = secrets.env("CA"), `, "", 1), nil)
	ups, err := UpstreamsOf(snap, "clickhouse", nil)
	if err != nil || len(ups) != 2 || ups["a"] == nil || ups["b"] == nil {
		t.Fatalf("got %v, %v", ups, err)
	}
	if again, _ := UpstreamsOf(snap, "clickhouse", nil); again["a"] != ups["a"] {
		t.Error("the transports are built again for the same snapshot")
	}
	if other, _ := UpstreamsOf(snap, "kubernetes", nil); len(other) != 0 {
		t.Errorf("kubernetes transports for clickhouse endpoints: %v", other)
	}
}
