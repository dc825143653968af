package llm

import (
	"encoding/json"
	"testing"
)

// FuzzParseAnswer checks that parseAnswer never panics and only ever
// accepts exactly one object with a valid decision and a reason.
func FuzzParseAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"decision":"allow","reason":"ok"}`,
		` {"decision": "deny", "reason": ""} `,
		`{"decision":"allow"}`,
		`{"decision":"allow","reason":"x","decision":"deny"}`,
		`{"decision":"allow","reason":"x"} trailing`,
		`{"decision":"Allow","reason":"x"}`,
		`{"decision":["allow"],"reason":"x"}`,
		"```json\n{\"decision\":\"allow\",\"reason\":\"x\"}\n```",
		`Not allowed.`,
		`[]`, `{`, `null`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		allow, reason, err := parseAnswer(s)
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil || len(m) != 2 {
			t.Fatalf("accepted %q, which is not a two-field object", s)
		}
		d, _ := m["decision"].(string)
		if (d == "allow") != allow || (d != "allow" && d != "deny") || m["reason"] != reason {
			t.Fatalf("accepted %q as allow=%v reason=%q", s, allow, reason)
		}
	})
}
