package proxy

import (
	"encoding/base64"
	"testing"
)

func TestBasicCredential(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, value string
		want        *Credential
	}{
		{name: "name and password", value: "Basic " + b64("bot:pw:with:colons"), want: &Credential{Name: "bot", Password: "pw:with:colons"}},
		{name: "scheme in any case", value: "basic " + b64("bot:pw"), want: &Credential{Name: "bot", Password: "pw"}},
		{name: "absent", value: ""},
		{name: "bearer", value: "Bearer token"},
		{name: "not base64", value: "Basic !!!"},
		{name: "no colon", value: "Basic " + b64("botpw")},
		{name: "line break in the name", value: "Basic " + b64("bot\r\nX-Evil: 1:pw")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BasicCredential(tt.value)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("BasicCredential(%q) = %+v, want %+v", tt.value, got, tt.want)
			}
		})
	}
}
