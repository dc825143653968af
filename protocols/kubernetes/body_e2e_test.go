package kubernetes_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBodyWithoutContentTypeIsReadAsJSON: the API server decodes a body
// sent without Content-Type as JSON, so the hook must see it as JSON too.
func TestBodyWithoutContentTypeIsReadAsJSON(t *testing.T) {
	h := start(t, viewerPolicy)
	body := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"volumes":[{"name":"root","hostPath":{"path":"/"}}],"containers":[{"name":"c","image":"busybox"}]}}`
	req, _ := http.NewRequest("POST", h.server+"/api/v1/namespaces/default/pods", strings.NewReader(body))
	req.Header.Del("Content-Type")
	resp, err := h.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
	for _, r := range h.api.Received() {
		if r.Method == "POST" {
			t.Errorf("the hostPath pod reached the API server")
		}
	}
	var found bool
	for _, rec := range h.records() {
		found = found || strings.Contains(rec.Reason, "no hostPath volumes")
	}
	if !found {
		t.Errorf("no audit record says the hostPath rule denied it")
	}
}
