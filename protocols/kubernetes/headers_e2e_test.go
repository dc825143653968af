package kubernetes_test

import (
	"net/http"
	"testing"
)

const viewerPolicy = `
def check(req):
    if req.verb == "create" and req.json != None and "hostPath" in json.encode(req.json):
        return deny("no hostPath volumes")
    if req.verb == "create" and req.body_format != "json":
        return deny("unreadable body")
    if req.impersonate_user == "viewer" or req.verb == "create":
        return allow("as viewer")
    return deny("only as viewer")

kubernetes(
    name = "prod",
    server = "https://SERVER",
    ca = secrets.file("CA_FILE"),
    credential = bearer(secrets.env("K8S_TOKEN")),
    port = 0,
    on_request = check,
)
`

// TestConnectionNamedHeaderIsNotDecidedOn sends Impersonate-User and names
// it in Connection, which makes it hop-by-hop: the relay drops it, so the
// API server would act with the gateway's own identity. The policy must
// decide on the request as forwarded, without the header.
func TestConnectionNamedHeaderIsNotDecidedOn(t *testing.T) {
	h := start(t, viewerPolicy)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: h.tlsConfig()}}
	for _, conn := range []string{"Impersonate-User", "keep-alive, impersonate-user"} {
		h.api.Reset()
		req, _ := http.NewRequest("GET", h.server+"/api/v1/namespaces/default/pods", nil)
		req.Header.Set("Impersonate-User", "viewer")
		req.Header.Set("Connection", conn)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, r := range h.api.Received() {
			if r.Header.Get("Impersonate-User") != "viewer" {
				t.Errorf("Connection: %s: %s %s reached the API server without the impersonation the policy allowed (status %d)", conn, r.Method, r.Target, resp.StatusCode)
			}
		}
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("Connection: %s: status %d, want 403", conn, resp.StatusCode)
		}
	}
}
