package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runIn runs ward in-process with args.
func runIn(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// flagNames lists the flags `ward CMD --help` prints.
func flagNames(t *testing.T, cmd string) []string {
	t.Helper()
	code, _, help := runIn(cmd, "--help")
	if code != 0 {
		t.Fatalf("ward %s --help: exit %d", cmd, code)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(help, -1) {
		names = append(names, m[1])
	}
	return names
}

// unlisted are flags that `ward help` and README leave out on purpose.
var unlisted = map[string]bool{
	"gateway cpuprofile": true, "gateway log-format": true, "gateway log-level": true, // tuning and bench/
	"log f": true, // short for --follow
}

// TestHelpAndReadmeListEveryFlag checks that `ward help` and README's
// command list name every subcommand and each of its flags.
func TestHelpAndReadmeListEveryFlag(t *testing.T) {
	_, help, _ := runIn("help")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		helpLine := lineWith(help, "  ward "+c.name+" ")
		readmeLine := lineWith(string(readme), "ward "+c.name+" ")
		if helpLine == "" || readmeLine == "" {
			t.Errorf("ward %s is missing from `ward help` (%q) or README's command list (%q)", c.name, helpLine, readmeLine)
			continue
		}
		for _, f := range flagNames(t, c.name) {
			if unlisted[c.name+" "+f] {
				continue
			}
			flag := regexp.MustCompile(`\[--?` + regexp.QuoteMeta(f) + `[ \]]`)
			if !flag.MatchString(helpLine) {
				t.Errorf("`ward help` does not list ward %s --%s: %s", c.name, f, helpLine)
			}
			if !flag.MatchString(readmeLine) {
				t.Errorf("README does not list ward %s --%s: %s", c.name, f, readmeLine)
			}
		}
	}
}

// lineWith returns the first line of s that starts with prefix.
func lineWith(s, prefix string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

// TestCommonMistakes checks the errors a user gets for common slips.
func TestCommonMistakes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("policy.star", []byte(`http(name = "g", hosts = ["api.github.com"], on_request = lambda r: allow())`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		// The policy given as an argument instead of --config.
		{[]string{"check", "policy.star"}, 2, `unexpected argument "policy.star"`},
		{[]string{"gateway", "policy.star"}, 2, `unexpected argument "policy.star"`},
		{[]string{"log", "deny"}, 2, `unexpected argument "deny"`},
		// No ward.star here.
		{[]string{"check"}, 1, "no policy file ward.star (name the policy with --config FILE)"},
		{[]string{"gateway", "--proxy-port", "0"}, 1, "no policy file ward.star"},
		{[]string{"run", "--", "true"}, 1, "no policy file ward.star"},
		{[]string{"kubeconfig", "prod"}, 1, "no policy file ward.star"},
		// A verdict that no record carries would print nothing.
		{[]string{"log", "--verdict", "denied"}, 2, `--verdict "denied": want allow, deny, would_deny, refused or passthrough`},
		// Flags after the action ID are flags, not ignored.
		{[]string{"fixture", "a06nope", "--state-dir", "elsewhere"}, 1, "no audit log at elsewhere/audit.db"},
	} {
		code, _, stderr := runIn(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("ward %s: exit %d, want %d with %q:\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, stderr)
		}
	}
	if _, err := os.Stat(".ward"); err == nil {
		t.Error("a failed command created .ward")
	}
}

// TestCANewStateDirSaysSo checks that ward ca says when it made a new CA:
// after a mistyped --state-dir, that CA is one no gateway uses.
func TestCANewStateDirSaysSo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	code, first, stderr := runIn("ca", "--state-dir", dir)
	if code != 0 || !strings.Contains(stderr, "created a new CA in "+dir) {
		t.Fatalf("first ward ca: exit %d: %s", code, stderr)
	}
	code, second, stderr := runIn("ca", "--state-dir", dir)
	if code != 0 || stderr != "" || second != first {
		t.Errorf("second ward ca: exit %d, stderr %q, same CA %v", code, stderr, second == first)
	}
}

// TestTestFileThatLoadsNoPolicy checks the advice for a test file that
// forgot to load the policy it tests.
func TestTestFileThatLoadsNoPolicy(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"ward.star":      `http(name = "g", hosts = ["api.github.com"], on_request = lambda r: allow())`,
		"ward_test.star": "def test_get(t):\n    decide(http_request(\"GET\", \"https://api.github.com/\"))\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := runIn("test", dir)
	if code != 1 || !strings.Contains(out, `ward_test.star declares no endpoints: a test file sees those of the files it loads, as in load("ward.star", ...)`) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
