package agentenv

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/starlark/policy"
)

// memFiles keeps generated files in memory.
type memFiles map[string][]byte

func (m memFiles) Write(name string, data []byte) (string, error) {
	m[name] = data
	return "/files/" + name, nil
}

func load(t *testing.T, src string) *policy.Policy {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ward.star")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(path, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const hook = "def ok(r):\n    return allow()\n"

var (
	testCA    = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("GATEWAY-CA")})
	testRoots = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("SYSTEM-ROOTS")})
)

func build(t *testing.T, p *policy.Policy, mod func(*Options)) (*Env, memFiles, error) {
	t.Helper()
	files := memFiles{}
	o := Options{Policy: p, Host: "127.0.0.1", ProxyPort: 8080, CA: testCA, SystemRoots: testRoots,
		Files: files, Resolver: builtins.Resolver{LookupEnv: func(n string) (string, bool) { return "pw-" + n, true }}}
	if mod != nil {
		mod(&o)
	}
	e, err := Build(context.Background(), o)
	return e, files, err
}

func TestBuildSetsProxyAndCA(t *testing.T) {
	p := load(t, hook+`http(name = "api", hosts = ["api.example.com"], on_request = ok)`)
	e, files, err := build(t, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"HTTP_PROXY": "http://127.0.0.1:8080", "https_proxy": "http://127.0.0.1:8080", "ALL_PROXY": "http://127.0.0.1:8080",
		"NO_PROXY": "localhost,127.0.0.1,::1", "SSL_CERT_FILE": "/files/ca-bundle.pem", "GIT_SSL_CAINFO": "/files/ca-bundle.pem",
		"NODE_EXTRA_CA_CERTS": "/files/gateway-ca.pem",
	}
	for name, v := range want {
		if got, _ := e.Lookup(name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	if string(files["ca-bundle.pem"]) != string(testRoots)+string(testCA) || string(files["gateway-ca.pem"]) != string(testCA) {
		t.Errorf("files = %q", files)
	}
	if _, ok := e.Lookup("PGHOST"); ok {
		t.Error("PGHOST set without a postgres endpoint")
	}
}

func TestNoProxyNeverExemptsADeclaredHost(t *testing.T) {
	p := load(t, hook+`http(name = "api", hosts = ["127.0.0.1:9443", "localhost"], on_request = ok)`)
	e, _, err := build(t, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Lookup("NO_PROXY"); got != "::1" {
		t.Errorf("NO_PROXY = %q", got)
	}
}

func TestBuildAgentIdentity(t *testing.T) {
	p := load(t, hook+`agent(name = "bot", password = secrets.env("BOT_PW"))
http(name = "api", hosts = ["api.example.com"], on_request = ok)`)
	tests := []struct {
		name, agent string
		tailnet     bool
		proxy       string
		wantErr     string
	}{
		{name: "declared agent", agent: "bot", proxy: "http://bot:pw-BOT_PW@127.0.0.1:8080"},
		{name: "missing --agent", wantErr: "declares agents (bot): pass --agent NAME"},
		{name: "unknown agent", agent: "eve", wantErr: "no such agent"},
		{name: "tailnet refuses --agent", agent: "bot", tailnet: true, wantErr: "on the tailnet an agent is the node"},
		{name: "tailnet", tailnet: true, proxy: "http://127.0.0.1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, err := build(t, p, func(o *Options) { o.Agent, o.Tailnet = tt.agent, tt.tailnet })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := e.Lookup("HTTPS_PROXY"); got != tt.proxy {
				t.Errorf("HTTPS_PROXY = %q, want %q", got, tt.proxy)
			}
		})
	}
}

func TestRemoveCredentials(t *testing.T) {
	p := load(t, hook+`
http(name = "gh", hosts = ["api.github.com"], inject = bearer(secrets.env("GH_GATEWAY_TOKEN")), on_request = ok)
http(name = "slack", hosts = ["*.slack.com"], on_request = ok)
http(name = "openai", hosts = ["api.openai.com"], inject = header("Authorization", secrets.env("OAI")), on_request = ok)
`)
	environ := []string{"GH_GATEWAY_TOKEN=ghp_realtoken", "ALIAS=ghp_realtoken", "SHORT=abc", "OAI=abc",
		"GITHUB_TOKEN=x", "SLACK_TOKEN=kept-no-inject", "OPENAI_API_KEY=y", "HOME=/home/a", "HTTPS_PROXY=http://corp:3128"}
	e, _, err := build(t, p, func(o *Options) { o.Environ = environ })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range e.Removed {
		got[r.Name] = r.Why
	}
	for name, why := range map[string]string{
		"GH_GATEWAY_TOKEN": "the gateway's secret <secret env:GH_GATEWAY_TOKEN>",
		"ALIAS":            "same value as GH_GATEWAY_TOKEN",
		"OAI":              "the gateway's secret",
		"GITHUB_TOKEN":     "http endpoint gh: the gateway holds the credential",
		"OPENAI_API_KEY":   "http endpoint openai",
	} {
		if !strings.Contains(got[name], why) {
			t.Errorf("%s: removed because %q, want %q", name, got[name], why)
		}
	}
	for _, kept := range []string{"SHORT", "SLACK_TOKEN", "HOME", "HTTPS_PROXY"} {
		if _, ok := got[kept]; ok {
			t.Errorf("%s removed", kept)
		}
	}
	env := strings.Join(e.Environ(environ), "\n")
	if strings.Contains(env, "ghp_realtoken") || strings.Contains(env, "corp:3128") || !strings.Contains(env, "SHORT=abc") {
		t.Errorf("environ:\n%s", env)
	}
}

func TestBuildErrors(t *testing.T) {
	p := load(t, hook+`http(name = "api", hosts = ["api.example.com"], on_request = ok)`)
	if _, _, err := build(t, p, func(o *Options) { o.CA = nil }); err == nil || !strings.Contains(err.Error(), "no gateway CA") {
		t.Errorf("no CA: %v", err)
	}
	if _, _, err := build(t, p, func(o *Options) { o.Host = "" }); err == nil || !strings.Contains(err.Error(), "--gateway") {
		t.Errorf("no host: %v", err)
	}
	e, _, err := build(t, p, func(o *Options) { o.SystemRoots = nil })
	if err != nil || len(e.Notes) != 1 || !strings.Contains(e.Notes[0], "no system CA roots") {
		t.Errorf("no system roots: %v %v", e, err)
	}
}

func TestCacheFilesAreContentAddressed(t *testing.T) {
	f := &CacheFiles{Dir: t.TempDir()}
	a, err := f.Write("ca.pem", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := f.Write("ca.pem", []byte("one"))
	other, _ := f.Write("ca.pem", []byte("two"))
	if a != again || a == other {
		t.Errorf("paths %s %s %s", a, again, other)
	}
	if data, _ := os.ReadFile(other); string(data) != "two" {
		t.Errorf("content %q", data)
	}
	if fi, _ := os.Stat(a); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(f.Dir)
	if len(entries) != 2 {
		t.Errorf("%d files; temp files left behind?", len(entries))
	}
}

func TestNoProxyNeverExemptsASubdomainOfALoopbackName(t *testing.T) {
	// NO_PROXY=localhost also exempts *.localhost in curl, Go and Python.
	for _, host := range []string{"api.localhost", "*.localhost", "API.LOCALHOST.", "[0:0::1]:9443"} {
		p := load(t, hook+`http(name = "api", hosts = ["`+host+`"], on_request = ok)`)
		e, _, err := build(t, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := e.Lookup("no_proxy")
		for _, entry := range strings.Split(got, ",") {
			if h := policy.CanonicalHost(strings.TrimPrefix(host, "*.")); entry != "" && (h == entry || strings.HasSuffix(h, "."+entry) ||
				strings.HasPrefix(host, "[") && entry == "::1") {
				t.Errorf("host %s: no_proxy = %q exempts it", host, got)
			}
		}
	}
}

func TestNoProxyExemptsTheGateway(t *testing.T) {
	// Database and Kubernetes ports live on the gateway's host: clients that
	// honour HTTPS_PROXY (kubectl, curl to ClickHouse) must reach them
	// directly, not as a CONNECT the proxy refuses.
	p := load(t, hook+`http(name = "api", hosts = ["api.example.com"], on_request = ok)`)
	e, _, err := build(t, p, func(o *Options) { o.Host, o.Tailnet = "ward.tail-scale.ts.net", true })
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Lookup("NO_PROXY"); got != "localhost,127.0.0.1,::1,ward.tail-scale.ts.net" {
		t.Errorf("NO_PROXY = %q", got)
	}
	// Unless the gateway's name is itself a declared host.
	p = load(t, hook+`http(name = "api", hosts = ["*.ts.net"], on_request = ok)`)
	e, _, err = build(t, p, func(o *Options) { o.Host, o.Tailnet = "ward.tail-scale.ts.net", true })
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Lookup("NO_PROXY"); got != "localhost,127.0.0.1,::1" {
		t.Errorf("NO_PROXY = %q", got)
	}
}

func TestRemoveVariablesThatSteerPostgresAround(t *testing.T) {
	// libpq connects to PGHOSTADDR instead of PGHOST, and a PGSERVICE's
	// settings (host, port, password) win over PG* variables: either would
	// take psql straight to the database, past the gateway.
	p := load(t, `postgres(name = "db", port = 6432, upstream = "db.internal:5432", user = "app", password = secrets.env("DB_PW"), on_query = lambda q: allow())`)
	environ := []string{"PGHOSTADDR=10.0.0.5", "PGSERVICE=prod", "PGSERVICEFILE=/home/a/.pg_service.conf", "PGAPPNAME=agent"}
	e, _, err := build(t, p, func(o *Options) { o.Environ = environ })
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(e.Environ(environ), "\n")
	for _, gone := range []string{"PGHOSTADDR", "PGSERVICE="} {
		if strings.Contains(env, gone) {
			t.Errorf("%s kept:\n%s", gone, env)
		}
	}
	if !strings.Contains(env, "PGAPPNAME=agent") {
		t.Errorf("PGAPPNAME removed:\n%s", env)
	}
}

func TestRemoveVariablesEmbeddingASecret(t *testing.T) {
	p := load(t, hook+`
postgres(name = "db", port = 6432, upstream = "db.internal:5432", user = "app", password = secrets.env("DB_PW"), on_query = ok)
http(name = "gh", hosts = ["api.github.com"], inject = bearer(secrets.env("GH_GATEWAY_TOKEN")), on_request = ok)
`)
	environ := []string{"DB_PW=s3cret-db-password", "GH_GATEWAY_TOKEN=ghp_realtoken",
		"DATABASE_URL=postgres://app:s3cret-db-password@db.internal:5432/app",
		"GIT_CONFIG_VALUE_0=Authorization: Bearer ghp_realtoken", "NOTE=nothing secret here"}
	e, _, err := build(t, p, func(o *Options) { o.Environ = environ })
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(e.Environ(environ), "\n")
	if strings.Contains(env, "s3cret-db-password") || strings.Contains(env, "ghp_realtoken") || !strings.Contains(env, "NOTE=") {
		t.Errorf("environ:\n%s", env)
	}
	for _, r := range e.Removed {
		if strings.Contains(r.Why, "s3cret") || strings.Contains(r.Why, "ghp_") {
			t.Errorf("report %q shows the secret", r.Why)
		}
	}
}

func TestCABundleHoldsCertificatesOnly(t *testing.T) {
	// A combined PEM (certificate and key) in SSL_CERT_FILE must not be
	// copied into a file the agent reads.
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("root")})
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("private")})
	gw := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("gateway")})
	p := load(t, hook+`http(name = "api", hosts = ["api.example.com"], on_request = ok)`)
	e, files, err := build(t, p, func(o *Options) {
		o.SystemRoots = append(append([]byte("# a comment\n"), cert...), key...)
		o.CA = append(append([]byte{}, gw...), key...)
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key:\n%s", name, data)
		}
	}
	if want := string(cert) + string(gw); string(files["ca-bundle.pem"]) != want {
		t.Errorf("bundle:\n%s\nwant\n%s", files["ca-bundle.pem"], want)
	}
	if len(e.Notes) == 0 || !strings.Contains(strings.Join(e.Notes, "\n"), "private key") {
		t.Errorf("notes = %q", e.Notes)
	}
	if _, _, err := build(t, p, func(o *Options) { o.CA = key }); err == nil || !strings.Contains(err.Error(), "no certificate") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
}

func TestCacheDirIsPrivate(t *testing.T) {
	// The cache dir holds kubeconfigs with the agent's ward password and
	// the bundles its clients trust: others must not read or replace them.
	base := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", base)
	dir := filepath.Join(base, "ward", "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := NewCacheFiles()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(f.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir %s: %v %v", f.Dir, fi.Mode(), err)
	}
	// A symlink planted where the dir should be is refused.
	other := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", other)
	if err := os.MkdirAll(filepath.Join(other, "ward"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(other, "ward", "run")); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCacheFiles(); err == nil || !strings.Contains(err.Error(), "not a directory of its own") {
		t.Errorf("symlinked cache dir: %v", err)
	}
}
