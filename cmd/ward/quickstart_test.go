package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstartPolicyTests runs `ward test` on the quickstart as the README
// does, then flips one expectation and checks the failure is readable.
func TestQuickstartPolicyTests(t *testing.T) {
	out, stderr, code := ward(t, nil, "test", "../../examples/quickstart")
	if code != 0 || !strings.Contains(out, "ok\t") {
		t.Fatalf("ward test examples/quickstart: exit %d\n%s%s", code, out, stderr)
	}

	// Flags after the paths, as with go test ./... -v.
	out, stderr, code = ward(t, nil, "test", "../../examples/quickstart", "-v")
	if code != 0 || !strings.Contains(out, "--- PASS: ") {
		t.Fatalf("ward test examples/quickstart -v: exit %d\n%s%s", code, out, stderr)
	}

	dir := t.TempDir()
	for _, name := range []string{"ward.star", "ward_test.star", "fixtures/delete-repo.fixture.json"} {
		data, err := os.ReadFile(filepath.Join("../../examples/quickstart", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "ward_test.star" {
			data = []byte(strings.Replace(string(data), "t.eq(v.allowed, False, method + \" \" + path)", "t.eq(v.allowed, True, method + \" \" + path)", 1))
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, _, code = ward(t, nil, "test", dir)
	if code != 1 {
		t.Fatalf("flipped expectation: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"--- FAIL: test_writes_are_denied (" + filepath.Join(dir, "ward_test.star") + ")",
		"ward_test.star:20:13: t.eq: DELETE /repos/acme/app: got False, want True",
		"FAIL\t1 failed, 5 passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckListsEndpointsAndHooks(t *testing.T) {
	out, stderr, code := ward(t, nil, "check", "--config", "../../examples/quickstart/ward.star")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"endpoint github (http)", "hosts:  api.github.com", "inject: bearer(<secret env:GITHUB_TOKEN>)", "on_request: check_github"} {
		if !strings.Contains(out, want) {
			t.Errorf("ward check lacks %q:\n%s", want, out)
		}
	}
	_, stderr, code = ward(t, nil, "check", "--config", "does-not-exist.star")
	if code != 1 || !strings.Contains(stderr, "does-not-exist.star") {
		t.Errorf("missing policy: exit %d, %s", code, stderr)
	}
}

func TestUsage(t *testing.T) {
	out, _, code := ward(t, nil, "help")
	if code != 0 || !strings.Contains(out, "ward gateway") {
		t.Fatalf("help: %d %s", code, out)
	}
	if _, stderr, code := ward(t, nil); code != 2 || !strings.Contains(stderr, "ward gateway") {
		t.Fatalf("no command: exit %d, %s", code, stderr)
	}
	_, stderr, code := ward(t, nil, "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %s", code, stderr)
	}
	_, _, code = ward(t, nil, "log", "--no-such-flag")
	if code != 2 {
		t.Fatalf("bad flag: exit %d", code)
	}
}

// TestEveryExamplePasses runs `ward test` on each example, so that no
// example an operator copies has rotted.
func TestEveryExamplePasses(t *testing.T) {
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			out, stderr, code := ward(t, nil, "test", dir)
			if code != 0 || !strings.HasPrefix(lastLine(out), "ok\t") {
				t.Fatalf("ward test %s: exit %d\n%s%s", dir, code, out, stderr)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
