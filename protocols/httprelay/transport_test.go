package httprelay

import (
	"net/http"
	"reflect"
	"testing"
)

func TestForwardedHeaders(t *testing.T) {
	cases := []struct {
		name    string
		in      http.Header
		dropped []string
	}{
		{"no Connection", http.Header{"Impersonate-User": {"a"}}, nil},
		{"keep-alive", http.Header{"Connection": {"keep-alive"}, "Impersonate-User": {"a"}}, nil},
		{"named header", http.Header{"Connection": {"keep-alive, impersonate-user"}, "Impersonate-User": {"a"}}, []string{"Impersonate-User"}},
		{"several lines", http.Header{"Connection": {"X-A", "x-b"}, "X-A": {"1"}, "X-B": {"2"}, "X-C": {"3"}}, []string{"X-A", "X-B"}},
		{"upgrade stays", http.Header{"Connection": {"Upgrade, Connection"}, "Upgrade": {"websocket"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.in.Clone()
			got := ForwardedHeaders(tc.in)
			if !reflect.DeepEqual(tc.in, before) {
				t.Fatalf("the input was modified: %v", tc.in)
			}
			want := tc.in.Clone()
			for _, name := range tc.dropped {
				delete(want, name)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
