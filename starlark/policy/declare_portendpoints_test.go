package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadString(t *testing.T, src string) (*Policy, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ward.star")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, Options{})
}

func TestKubernetesAndClickHouseDeclarations(t *testing.T) {
	const hook = "def h(a):\n    return allow()\n"
	cases := []struct {
		name, src, err string
	}{
		{"kubernetes bearer", `kubernetes(name = "k", server = "https://10.0.0.1:6443/prefix/", port = 6443, on_request = h, credential = bearer(secrets.env("T")), namespace = "apps")`, ""},
		{"kubernetes client cert", `kubernetes(name = "k", server = "https://k8s.internal", port = 0, on_request = h, credential = client_cert(secrets.file("/c.pem"), secrets.file("/k.pem")))`, ""},
		{"kubernetes plain http", `kubernetes(name = "k", server = "http://10.0.0.1:6443", port = 1, on_request = h)`, "want a URL starting with https://"},
		{"kubernetes credentials in URL", `kubernetes(name = "k", server = "https://u:p@10.0.0.1", port = 1, on_request = h)`, "credentials do not go in the URL"},
		{"kubernetes basic credential", `kubernetes(name = "k", server = "https://10.0.0.1", port = 1, on_request = h, credential = basic("u", secrets.env("P")))`, "bearer(secret) or client_cert"},
		{"kubernetes string credential", `kubernetes(name = "k", server = "https://10.0.0.1", port = 1, on_request = h, credential = "token")`, "credential is string"},
		{"kubernetes port range", `kubernetes(name = "k", server = "https://10.0.0.1", port = 70000, on_request = h)`, "out of range"},
		{"kubernetes no port", `kubernetes(name = "k", server = "https://10.0.0.1", on_request = h)`, "missing argument for port"},
		{"clickhouse", `clickhouse(name = "c", upstream = "http://127.0.0.1:8123", port = 18123, user = "ward", password = secrets.env("P"), on_query = h)`, ""},
		{"clickhouse headers https", `clickhouse(name = "c", upstream = "https://ch:8443", port = 0, auth = "headers", ca = secrets.file("/ca.pem"), on_query = h)`, ""},
		{"clickhouse bad auth", `clickhouse(name = "c", upstream = "http://ch:8123", port = 0, auth = "query", on_query = h)`, `auth = "query"`},
		{"clickhouse path", `clickhouse(name = "c", upstream = "http://ch:8123/x", port = 0, on_query = h)`, "without a path"},
		{"clickhouse no scheme", `clickhouse(name = "c", upstream = "ch:8123", port = 0, on_query = h)`, "want a URL starting with"},
		{"clickhouse ca on http", `clickhouse(name = "c", upstream = "http://ch:8123", port = 0, ca = secrets.file("/ca.pem"), on_query = h)`, "ca is only for an https"},
		{"clickhouse user colon", `clickhouse(name = "c", upstream = "http://ch:8123", port = 0, user = "a:b", on_query = h)`, "':'"},
		{"clickhouse hook arity", `clickhouse(name = "c", upstream = "http://ch:8123", port = 0, on_query = lambda: allow())`, "must take exactly one argument"},
		{"same port twice", `kubernetes(name = "k", server = "https://a", port = 7000, on_request = h)
clickhouse(name = "c", upstream = "http://ch:8123", port = 7000, on_query = h)`, "port 7000 is declared by both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loadString(t, hook+tc.src+"\n")
			if tc.err == "" {
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				ep := p.Endpoints[0]
				if ep.Hook == "" || ep.Hooks[ep.Hook] == nil {
					t.Errorf("endpoint %s has no deciding hook", ep.Name)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestKubernetesSettings(t *testing.T) {
	p, err := loadString(t, `kubernetes(name = "k", server = "https://10.0.0.1:6443/prefix/", port = 6443, on_request = lambda r: allow(),
    credential = client_cert(secrets.env("C"), secrets.env("K")), namespace = "apps")
`)
	if err != nil {
		t.Fatal(err)
	}
	ep := p.Endpoint("k")
	s := ep.Kubernetes
	if ep.Protocol != "kubernetes" || s.Server.Host != "10.0.0.1:6443" || s.Server.Path != "/prefix" || s.ClientCert == nil ||
		s.Namespace != "apps" || ep.Inject != nil || len(p.Secrets) != 2 {
		t.Errorf("endpoint = %+v, settings = %+v", ep, s)
	}
}

func TestPostgresMaxQuery(t *testing.T) {
	const decl = `postgres(name = "p", port = 0, upstream = "db", user = "u", on_query = lambda q: allow()%s)` + "\n"
	for _, tc := range []struct {
		args string
		want int64
		err  string
	}{
		{"", 1 << 20, ""},
		{`, max_query = "256KiB"`, 256 << 10, ""},
		{`, max_message = "2MiB", max_query = "2MiB"`, 2 << 20, ""},
		{`, max_message = "64KiB"`, 64 << 10, ""},
		{`, max_message = "64KiB", max_query = "1MiB"`, 0, "max_query must be between 1KiB and max_message"},
		{`, max_query = "512B"`, 0, "max_query must be between"},
	} {
		p, err := loadString(t, fmt.Sprintf(decl, tc.args))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error = %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.args, err)
		}
		if got := p.Endpoint("p").Postgres.MaxQuery; got != tc.want {
			t.Errorf("%s: max_query = %d, want %d", tc.args, got, tc.want)
		}
	}
}
