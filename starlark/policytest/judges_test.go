package policytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/starlark/policytest"
)

const judgePolicy = `
ops = slack.approver(channel = "#ops", bot_token = secrets.env("B"), app_token = secrets.env("A"), approvers = ["U0OPS1"])
def check(req):
    if req.method == "GET":
        return allow()
    return ops.ask(req)
http(name = "api", hosts = ["api.example"], on_request = check)
`

func runIn(t *testing.T, files map[string]string, paths ...string) (policytest.Summary, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	r := &policytest.Runner{Protocols: gateway.Protocols(), Out: &out}
	for i := range paths {
		paths[i] = filepath.Join(dir, paths[i])
	}
	if len(paths) == 0 {
		paths = []string{dir}
	}
	sum, err := r.Run(context.Background(), paths)
	if err != nil {
		t.Fatal(err)
	}
	return sum, out.String()
}

func TestUnstubbedJudgeFailsClearly(t *testing.T) {
	for name, test := range map[string]string{
		"direct": "load(\"ward.star\", \"check\")\ndef test_x(t):\n    check(http_request(\"POST\", \"https://api.example/x\"))\n",
		"decide": "def test_x(t):\n    t.eq(decide(http_request(\"POST\", \"https://api.example/x\")).allowed, False)\n",
	} {
		t.Run(name, func(t *testing.T) {
			if name == "decide" {
				test = "load(\"ward.star\", \"check\")\n" + test
			}
			sum, out := runIn(t, map[string]string{"ward.star": judgePolicy, "ward_test.star": test})
			if sum.Failed != 1 || !strings.Contains(out, "judge slack:#ops (declared at ") || !strings.Contains(out, "is not stubbed") ||
				!strings.Contains(out, "POST https://api.example/x") {
				t.Fatalf("output:\n%s", out)
			}
			if strings.Count(out, "is not stubbed") != 1 {
				t.Errorf("reported more than once:\n%s", out)
			}
		})
	}
}

func TestStubs(t *testing.T) {
	test := `load("ward.star", "check", "ops")
def test_allow(t):
    t.judge(ops, "allow")
    v = decide(http_request("POST", "https://api.example/x"))
    t.eq((v.allowed, v.decided_by), (True, "slack:stub"))
def test_deny(t):
    t.judge(ops, "deny", reason = "no", decided_by = "slack:U1")
    t.eq(check(http_request("POST", "https://api.example/x")), deny("no"))
def test_bad_stub(t):
    t.fails(t.judge, ops, "maybe", match = "allow")
    t.fails(t.judge, "ops", "allow", match = "judge")
`
	sum, out := runIn(t, map[string]string{"ward.star": judgePolicy, "ward_test.star": test})
	// deny("no") is decided by the policy, the stub by slack:U1: not equal.
	if sum.Passed != 2 || sum.Failed != 1 || !strings.Contains(out, `decided_by = "slack:U1"`) {
		t.Fatalf("summary %+v:\n%s", sum, out)
	}
}

func TestFixtureReplaysRecordedJudges(t *testing.T) {
	rec := audit.Record{ID: "a1", Protocol: "http", Endpoint: "api", Verdict: audit.VerdictAllow, Reason: "approved in Slack by @bob",
		DecidedBy: "slack:U1", Summary: "POST https://api.example/x",
		Raw:     json.RawMessage(`{"method":"POST","url":"https://api.example/x"}`),
		Details: json.RawMessage(`{"judges":[{"judge":"slack:#ops","allowed":true,"reason":"approved in Slack by @bob","decided_by":"slack:U1","latency_us":5,"details":{"approval_id":"p1"}}]}`)}
	f, err := policytest.FromRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Judges) != 1 || f.Judges[0].DecidedBy != "slack:U1" {
		t.Fatalf("fixture judges %+v", f.Judges)
	}
	data, _ := f.Marshal()
	sum, out := runIn(t, map[string]string{"ward.star": judgePolicy, "x.fixture.json": string(data)})
	if sum.Failed != 0 || sum.Passed != 1 {
		t.Fatalf("replay:\n%s", out)
	}
	f.Judges = nil
	data, _ = f.Marshal()
	sum, out = runIn(t, map[string]string{"ward.star": judgePolicy, "x.fixture.json": string(data)})
	if sum.Failed != 1 || !strings.Contains(out, "the fixture recorded no (further) answer from it") {
		t.Fatalf("replay without answers:\n%s", out)
	}
}

func TestJudgesExample(t *testing.T) {
	var out bytes.Buffer
	r := &policytest.Runner{Protocols: gateway.Protocols(), Out: &out}
	sum, err := r.Run(context.Background(), []string{"../../examples/judges"})
	if err != nil || !sum.OK() || sum.Passed < 5 {
		t.Fatalf("%v\n%s", err, out.String())
	}
}
