package whois

import (
	"encoding/json"
	"strings"
	"testing"

	"tailscale.com/client/tailscale/apitype"
	"tailscale.com/tailcfg"
)

const testCap = tailcfg.PeerCapability("github.com/wardproject/ward/cap/ward")

func TestAgent(t *testing.T) {
	user := &tailcfg.UserProfile{LoginName: "alice@example.com"}
	tests := []struct {
		name    string
		who     *apitype.WhoIsResponse
		want    string // the agent as JSON
		wantErr string
	}{
		{name: "user node",
			who:  &apitype.WhoIsResponse{Node: &tailcfg.Node{Name: "laptop.tail-scale.ts.net."}, UserProfile: user},
			want: `{"name":"laptop","user":"alice@example.com","addr":"100.64.0.2:4242"}`},
		{name: "tagged node is its tags",
			who: &apitype.WhoIsResponse{Node: &tailcfg.Node{Name: "ci-agent.tail-scale.ts.net.", Tags: []string{"tag:agent", "tag:ci"}},
				UserProfile: &tailcfg.UserProfile{LoginName: "tagged-devices"}},
			want: `{"name":"ci-agent","user":"tag:agent,tag:ci","tags":["tag:agent","tag:ci"],"addr":"100.64.0.2:4242"}`},
		{name: "caps of ward's capability only",
			who: &apitype.WhoIsResponse{Node: &tailcfg.Node{Name: "a.ts.net."}, UserProfile: user, CapMap: tailcfg.PeerCapMap{
				testCap:                    {`{"endpoints": ["prod"]}`, `{"endpoints": ["staging"]}`},
				"tailscale.com/cap/golink": {`{"admin": true}`},
			}},
			want: `{"name":"a","user":"alice@example.com","addr":"100.64.0.2:4242","caps":{"endpoints":["prod","staging"]}}`},
		{name: "computed name fallback",
			who:  &apitype.WhoIsResponse{Node: &tailcfg.Node{ComputedName: "box"}, UserProfile: user},
			want: `{"name":"box","user":"alice@example.com","addr":"100.64.0.2:4242"}`},
		{name: "no node", who: &apitype.WhoIsResponse{}, wantErr: "does not know the peer"},
		{name: "nil answer", who: nil, wantErr: "does not know the peer"},
		{name: "no name", who: &apitype.WhoIsResponse{Node: &tailcfg.Node{}, UserProfile: user}, wantErr: "has no name"},
		{name: "no owner", who: &apitype.WhoIsResponse{Node: &tailcfg.Node{Name: "x.ts.net."}}, wantErr: "neither tags nor an owner"},
		{name: "bad grant refuses the peer",
			who: &apitype.WhoIsResponse{Node: &tailcfg.Node{Name: "x.ts.net."}, UserProfile: user,
				CapMap: tailcfg.PeerCapMap{testCap: {`"admin"`}}},
			wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Agent(tt.who, testCap, "100.64.0.2:4242")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(a)
			if string(js) != tt.want {
				t.Errorf("agent = %s\nwant    %s", js, tt.want)
			}
		})
	}
}
