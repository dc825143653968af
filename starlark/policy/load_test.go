package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// write puts files in a fresh directory and returns the path of ward.star.
func write(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "ward.star")
}

const okHook = "def ok(r):\n    return allow()\n"

func TestLoadDeclares(t *testing.T) {
	path := write(t, map[string]string{
		"ward.star": `load("lib/hooks.star", "check")
gateway(mode = "observe", proxy_port = 9000, hook_timeout = "250ms", hook_steps = 5000)
http(name = "github", hosts = ["api.github.com", "*.githubusercontent.com:443"],
     inject = bearer(secrets.env("GITHUB_TOKEN")), on_request = check, body_limit = "64KiB")
`,
		"lib/hooks.star": "def check(req):\n    return allow()\n",
	})
	p, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	gw := p.Gateway
	if gw.Mode != "observe" || gw.ProxyPort != 9000 || gw.HookTimeout != 250*time.Millisecond || gw.HookSteps != 5000 || gw.Bind != "127.0.0.1" {
		t.Errorf("gateway = %+v", gw)
	}
	if len(p.Endpoints) != 1 {
		t.Fatalf("endpoints = %v", p.Endpoints)
	}
	ep := p.Endpoints[0]
	if ep.Name != "github" || ep.BodyLimit != 64<<10 || ep.Inject.Kind != "bearer" || ep.Hook != "on_request" || len(ep.Hosts) != 2 {
		t.Errorf("endpoint = %+v", ep)
	}
	if len(p.Files) != 2 || !strings.HasSuffix(p.Files[1], "lib/hooks.star") {
		t.Errorf("files = %v", p.Files)
	}
	if len(p.Secrets) != 1 || p.Secrets[0].Ref != "GITHUB_TOKEN" {
		t.Errorf("secrets = %v", p.Secrets)
	}
	if len(p.Hash) != 64 {
		t.Errorf("hash = %q", p.Hash)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
		extra           map[string]string
	}{
		{"syntax", "def f(:\n", "ward.star:1", nil},
		{"runtime", "x = 1 // 0\n", "division by zero", nil},
		{"unknown builtin", "postgress()\n", "undefined: postgress", nil},
		{"no hosts", okHook + `http(name = "a", hosts = [], on_request = ok)`, "declares no hosts", nil},
		{"bad host", okHook + `http(name = "a", hosts = ["https://a.com/x"], on_request = ok)`, "not a URL", nil},
		{"host twice", okHook + `http(name = "a", hosts = ["a.com"], on_request = ok)
http(name = "b", hosts = ["A.com"], on_request = ok)`, `declared by both endpoint "a" and endpoint "b"`, nil},
		{"name twice", okHook + `http(name = "a", hosts = ["a.com"], on_request = ok)
http(name = "a", hosts = ["b.com"], on_request = ok)`, "declared twice", nil},
		{"bad name", okHook + `http(name = "A B", hosts = ["a.com"], on_request = ok)`, "must be lowercase", nil},
		{"missing hook", `http(name = "a", hosts = ["a.com"])`, "missing argument for on_request", nil},
		{"hook not callable", `http(name = "a", hosts = ["a.com"], on_request = "allow")`, "want callable", nil},
		{"hook arity", "def two(a, b):\n    return allow()\n" + `http(name = "a", hosts = ["a.com"], on_request = two)`, "exactly one argument", nil},
		{"hook no params", "def none():\n    return allow()\n" + `http(name = "a", hosts = ["a.com"], on_request = none)`, "exactly one argument", nil},
		{"inject not injection", okHook + `http(name = "a", hosts = ["a.com"], on_request = ok, inject = "token")`, "want injection", nil},
		{"bad body limit", okHook + `http(name = "a", hosts = ["a.com"], on_request = ok, body_limit = "lots")`, "bad size", nil},
		{"gateway twice", "gateway()\ngateway()\n", "called twice", nil},
		{"bad mode", `gateway(mode = "yolo")`, `mode must be "enforce" or "observe"`, nil},
		{"bad unknown_hosts", `gateway(unknown_hosts = "allow")`, "unknown_hosts must be", nil},
		{"bad timeout", `gateway(hook_timeout = "soon")`, "bad duration", nil},
		{"tiny step limit", `gateway(hook_steps = 10)`, "too small", nil},
		{"load missing", `load("nope.star", "x")`, "nope.star", nil},
		{"load cycle", `load("a.star", "x")`, "cycle in load graph", map[string]string{"a.star": `load("ward.star", "y")` + "\nx = 1\n"}},
		{"reassign global", "x = 1\nx = 2\n", "cannot reassign global x", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"ward.star": tt.src}
			for k, v := range tt.extra {
				files[k] = v
			}
			_, err := Load(write(t, files), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.star"), Options{}); err == nil {
		t.Error("missing policy file loaded")
	}
}

func TestSizesAndDurations(t *testing.T) {
	for src, want := range map[string]int64{`"1MiB"`: 1 << 20, `"512KiB"`: 512 << 10, `"10MB"`: 10e6, `"100"`: 100, `2048`: 2048, `"3 KiB"`: 3 << 10} {
		path := write(t, map[string]string{"ward.star": okHook + `http(name = "a", hosts = ["a.com"], on_request = ok, body_limit = ` + src + ")"})
		p, err := Load(path, Options{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := p.Endpoints[0].BodyLimit; got != want {
			t.Errorf("body_limit = %s: got %d, want %d", src, got, want)
		}
	}
}
