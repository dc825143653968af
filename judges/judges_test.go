package judges_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/protocols/action"
)

func TestMaskerDescribedMasksInsideJSON(t *testing.T) {
	const secret = `p"ss<w>rd&1`
	mask := judges.Masker(func(s string) string { return strings.ReplaceAll(s, secret, "[redacted]") })
	facts, _ := json.Marshal(map[string]any{"sql": "SELECT '" + secret + "'", "n": json.Number("12345678901234567890"),
		"headers": map[string][]string{"X-" + secret: {secret}}})
	d := mask.Described(judges.Described{Summary: secret, Note: "note " + secret, Agent: action.Agent{Name: secret}, Facts: facts})
	out, _ := json.Marshal(d)
	for _, leak := range []string{secret, `p\"ss`, `\u003cw`} {
		if strings.Contains(string(out), leak) {
			t.Fatalf("leaked as %q: %s", leak, out)
		}
	}
	if strings.Count(string(out), "[redacted]") != 6 || !strings.Contains(string(out), "12345678901234567890") {
		t.Fatalf("masked description: %s", out)
	}
}

func TestStrictObject(t *testing.T) {
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"exact", `{"a":"x","b":"y"}`, true},
		{"white space", " \n{\"a\": \"x\"}\n ", true},
		{"unknown field", `{"a":"x","c":"y"}`, false},
		{"other case", `{"A":"x"}`, false},
		{"repeated", `{"a":"x","a":"y"}`, false},
		{"number", `{"a":1}`, false},
		{"nested", `{"a":{"b":"x"}}`, false},
		{"trailing object", `{"a":"x"}{"a":"y"}`, false},
		{"trailing text", `{"a":"x"} ok`, false},
		{"array", `[{"a":"x"}]`, false},
		{"unterminated", `{"a":"x"`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := judges.StrictObject([]byte(tc.in), "a", "b")
			if (err == nil) != tc.ok {
				t.Fatalf("StrictObject(%q) = %v, %v", tc.in, m, err)
			}
		})
	}
}
