package whois

import (
	"encoding/json"
	"strings"
	"testing"

	"tailscale.com/tailcfg"
)

func TestMergeCaps(t *testing.T) {
	tests := []struct {
		name    string
		grants  []string
		want    string // the merged caps as JSON, "null" for none
		wantErr string
	}{
		{name: "none", want: "null"},
		{name: "one grant", grants: []string{`{"endpoints": ["prod"], "max_rows": 100}`},
			want: `{"endpoints":["prod"],"max_rows":[100]}`},
		{name: "arrays union in grant order", grants: []string{`{"endpoints": ["prod"]}`, `{"endpoints": ["staging", "prod"]}`},
			want: `{"endpoints":["prod","staging"]}`},
		{name: "scalars collect", grants: []string{`{"admin": false}`, `{"admin": true}`, `{"admin": true}`},
			want: `{"admin":[false,true]}`},
		{name: "scalar and array mix", grants: []string{`{"k": "a"}`, `{"k": ["b", "a"]}`},
			want: `{"k":["a","b"]}`},
		{name: "objects dedupe by content", grants: []string{`{"db": {"b": 1, "a": 2}}`, `{"db": {"a": 2, "b": 1}}`},
			want: `{"db":[{"a":2,"b":1}]}`},
		{name: "big numbers kept as written", grants: []string{`{"n": 12345678901234567890}`},
			want: `{"n":[12345678901234567890]}`},
		{name: "empty object grant", grants: []string{`{}`}, want: `{}`},
		{name: "string grant refused", grants: []string{`"admin"`}, wantErr: "grant 0 is not a JSON object"},
		{name: "array grant refused", grants: []string{`{"a": 1}`, `[1]`}, wantErr: "grant 1 is not a JSON object"},
		{name: "null grant refused", grants: []string{`null`}, wantErr: "not a JSON object"},
		{name: "broken JSON refused", grants: []string{`{"a": `}, wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw []tailcfg.RawMessage
			for _, g := range tt.grants {
				raw = append(raw, tailcfg.RawMessage(g))
			}
			got, err := MergeCaps(raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(got)
			if string(js) != tt.want {
				t.Errorf("merged = %s, want %s", js, tt.want)
			}
		})
	}
}

func FuzzMergeCaps(f *testing.F) {
	f.Add(`{"endpoints": ["prod"], "max_rows": 100}`, `{"endpoints": ["staging"]}`)
	f.Add(`{"a": {"b": [1, 2]}}`, `[]`)
	f.Add(`{"a": 1e400}`, `{"a": "\ud800"}`)
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := MergeCaps([]tailcfg.RawMessage{tailcfg.RawMessage(a), tailcfg.RawMessage(b)})
		if err != nil {
			return
		}
		for k, vals := range got {
			for _, v := range vals {
				if !json.Valid(v) {
					t.Fatalf("caps[%q] holds invalid JSON %q", k, v)
				}
			}
		}
	})
}
