package policy

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/action"
)

func TestTailnetAndAgentDeclarations(t *testing.T) {
	path := write(t, map[string]string{"ward.star": `
tailnet(hostname = "ward-prod", authkey = secrets.env("TS_AUTHKEY"), tags = ["tag:ward", "tag:prod"],
        control_url = "https://hs.example.com", state_dir = "ts", ephemeral = True)
agent(name = "ci-bot", password = secrets.env("CI_PW"), tags = ["tag:agent"], caps = {"endpoints": ["api"], "max_rows": 10})
agent(name = "intern", password = secrets.file("intern.pw"))
`})
	p, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tn := p.Tailnet
	if tn == nil || tn.Hostname != "ward-prod" || tn.AuthKey.Ref != "TS_AUTHKEY" || len(tn.Tags) != 2 || tn.ControlURL != "https://hs.example.com" ||
		!tn.Ephemeral || tn.LogUpload || tn.Capability != CapabilityName || tn.StateDir != filepath.Join(filepath.Dir(path), "ts") {
		t.Errorf("tailnet = %+v", tn)
	}
	if len(p.Agents) != 2 {
		t.Fatalf("agents = %v", p.Agents)
	}
	caps, _ := json.Marshal(p.Agents[0].Caps)
	if a := p.Agents[0]; a.Name != "ci-bot" || a.Password.Ref != "CI_PW" || a.Tags[0] != "tag:agent" || string(caps) != `{"endpoints":["api"],"max_rows":[10]}` {
		t.Errorf("agent = %+v caps %s", a, caps)
	}
	if len(p.Secrets) != 3 {
		t.Errorf("secrets = %v (the auth key and both passwords are resolved at start)", p.Secrets)
	}
	if p.Agent("intern") == nil || p.Agent("nobody") != nil {
		t.Error("Policy.Agent lookup")
	}
}

func TestTailnetAndAgentErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"tailnet twice", "tailnet()\ntailnet()", "called twice"},
		{"bad hostname", `tailnet(hostname = "Ward_1")`, "must be a DNS label"},
		{"bad tag", `tailnet(tags = ["ward"])`, `tag "ward" must look like "tag:ward"`},
		{"tags not a list", `tailnet(tags = "tag:ward")`, "tags"},
		{"bad control url", `tailnet(control_url = "hs.example.com")`, "must be an http:// or https:// URL"},
		{"authkey not a secret", `tailnet(authkey = "tskey-auth-abc")`, "authkey"},
		{"bad capability", `tailnet(capability = "ward")`, "capability"},
		{"agent without password", `agent(name = "bot")`, "missing argument for password"},
		{"agent password literal", `agent(name = "bot", password = "hunter2")`, "password"},
		{"agent named local", `agent(name = "local", password = secrets.env("X"))`, `not "local"`},
		{"agent bad name", `agent(name = "Bot One", password = secrets.env("X"))`, "must be lowercase"},
		{"agent twice", "agent(name = \"a\", password = secrets.env(\"X\"))\nagent(name = \"a\", password = secrets.env(\"Y\"))", "declared twice"},
		{"agent caps not a dict", `agent(name = "a", password = secrets.env("X"), caps = ["x"])`, "caps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, map[string]string{"ward.star": tt.src}), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAgentValueCaps(t *testing.T) {
	a := action.Agent{Name: "n", User: "tag:a", Tags: []string{"tag:a"}, Addr: "100.64.0.1:1",
		Caps: map[string][]json.RawMessage{"endpoints": {json.RawMessage(`"api"`)}, "limits": {json.RawMessage(`{"rows": 5}`)}}}
	v := AgentValue(a)
	thread := &starlark.Thread{}
	got, err := starlark.Eval(thread, "x", `(a.caps["endpoints"], a.caps["limits"][0]["rows"], "api" in a.caps.get("endpoints", []), a.tags, a.user)`,
		starlark.StringDict{"a": v})
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != `(["api"], 5, True, ("tag:a",), "tag:a")` {
		t.Errorf("got %s", got)
	}
	// Frozen: a hook cannot change who the agent is.
	if _, err := starlark.Eval(thread, "x", `a.caps["endpoints"].append("prod")`, starlark.StringDict{"a": v}); err == nil {
		t.Error("caps are mutable")
	}
	// UnpackAgent reads the same shape back (a single value becomes a list).
	d := starlark.NewDict(1)
	caps := starlark.NewDict(1)
	_ = caps.SetKey(starlark.String("endpoints"), starlark.String("api"))
	_ = d.SetKey(starlark.String("name"), starlark.String("bot"))
	_ = d.SetKey(starlark.String("caps"), caps)
	back, err := UnpackAgent(d)
	if err != nil || string(back.Caps["endpoints"][0]) != `"api"` || back.User != "bot" {
		t.Errorf("UnpackAgent = %+v, %v", back, err)
	}
}
