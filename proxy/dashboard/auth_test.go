package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/audit"
)

// every route with the method it answers, for the authorization tables.
var routes = []struct{ method, path string }{
	{"GET", "/"},
	{"GET", "/actions/a1"},
	{"GET", "/actions/a1/fixture"},
	{"GET", "/status"},
	{"GET", "/events"},
	{"GET", "/api/actions"},
	{"GET", "/api/actions/a1"},
	{"GET", "/api/status"},
	{"GET", "/approvals/p1"},
	{"POST", "/approvals/p1"},
	{"GET", "/api/approvals"},
	{"GET", "/api/approvals/p1"},
}

func TestLocalModeRefusesWithoutToken(t *testing.T) {
	e := newEnv(t, envOptions{})
	anon := e.client(nil)
	forged := e.client(nil)
	u, _ := url.Parse(e.base)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "bm9uY2U.forged-mac"}})
	for _, c := range []struct {
		name   string
		client *http.Client
	}{{"no token", anon}, {"forged cookie", forged}} {
		for _, r := range routes {
			resp := e.do(c.client, r.method, r.path, url.Values{})
			if resp.status != http.StatusUnauthorized {
				t.Errorf("%s: %s %s = %d, want 401", c.name, r.method, r.path, resp.status)
			}
			if strings.Contains(resp.body, "csrf-token") {
				t.Errorf("%s: %s %s rendered a page with a CSRF token", c.name, r.method, r.path)
			}
		}
	}
	resp := e.do(anon, "GET", "/?token=wrong-token-0123456789", nil)
	if resp.status != http.StatusUnauthorized || !strings.Contains(resp.body, "wrong token") {
		t.Errorf("wrong token: %d %s", resp.status, resp.body)
	}
	if resp.header.Get("Set-Cookie") != "" {
		t.Error("a wrong token set a cookie")
	}
	if !strings.Contains(e.logs.String(), "wrong token") {
		t.Error("a wrong token is not logged")
	}
}

func TestLocalModeTokenOpensASession(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(nil)
	resp := e.do(c, "GET", "/status?token="+testToken+"&x=1", nil)
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/status?x=1" {
		t.Fatalf("login: %d %v", resp.status, resp.header)
	}
	ck := resp.header.Get("Set-Cookie")
	for _, want := range []string{sessionCookie + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %s", ck, want)
		}
	}
	if strings.Contains(ck, testToken) {
		t.Error("the cookie carries the token itself")
	}
	page := e.do(c, "GET", "/status", nil)
	if page.status != 200 || !strings.Contains(page.body, "abc123") {
		t.Fatalf("status page: %d %s", page.status, page.body)
	}
	// The session of one dashboard does not open another (fresh key per start).
	other := newEnv(t, envOptions{})
	cookie := strings.SplitN(ck, ";", 2)[0]
	if got := other.do(other.client(nil), "GET", "/api/status", nil, "Cookie", cookie); got.status != http.StatusUnauthorized {
		t.Errorf("another dashboard's session: %d", got.status)
	}
	// A token in a POST's query does not log in.
	if got := e.do(e.client(nil), "POST", "/approvals/p1?token="+testToken, url.Values{}); got.status != http.StatusUnauthorized {
		t.Errorf("POST with the token in the URL: %d", got.status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login()
	for _, path := range []string{"/", "/api/actions", "/static/app.js"} {
		h := e.do(c, "GET", path, nil).header
		for k, want := range map[string]string{
			"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		} {
			if h.Get(k) != want {
				t.Errorf("%s: %s = %q, want %q", path, k, h.Get(k), want)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	if e.do(c, "GET", "/", nil).header.Get("Cache-Control") != "no-store" {
		t.Error("pages may be cached")
	}
}

func TestTailnetModeUsesIdentity(t *testing.T) {
	e := newEnv(t, envOptions{tailnet: true, access: Access{
		Viewers:   []string{"viewer@example.com", "tag:observers"},
		Approvers: map[string][]string{"dashboard": {"alice@example.com", "tag:ops"}},
	}})
	tests := []struct {
		name string
		id   *Identity
		want int
	}{
		{"unidentified peer", nil, http.StatusForbidden},
		{"unlisted login", &Identity{Login: "mallory@example.com"}, http.StatusForbidden},
		{"unlisted tag", &Identity{Tags: []string{"tag:web"}}, http.StatusForbidden},
		{"viewer", &Identity{Login: "viewer@example.com"}, http.StatusOK},
		{"viewer, case differs", &Identity{Login: "Viewer@Example.com"}, http.StatusOK},
		{"viewer by tag", &Identity{Tags: []string{"tag:observers"}}, http.StatusOK},
		{"approver", &Identity{Login: "alice@example.com"}, http.StatusOK},
		{"approver by tag", &Identity{Tags: []string{"tag:web", "tag:ops"}}, http.StatusOK},
		{"a peer claiming to be local", &Identity{Login: "local", Local: true}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client(tt.id)
			for _, r := range routes {
				if r.method != "GET" || r.path == "/events" || strings.Contains(r.path, "1") {
					continue
				}
				if got := e.do(c, "GET", r.path, nil); got.status != tt.want {
					t.Errorf("GET %s = %d, want %d: %s", r.path, got.status, tt.want, got.body)
				}
			}
		})
	}
	// The local token does not open a tailnet dashboard.
	c := e.client(&Identity{Login: "mallory@example.com"})
	if got := e.do(c, "GET", "/?token="+testToken, nil); got.status != http.StatusForbidden {
		t.Errorf("token on the tailnet: %d", got.status)
	}
	if !strings.Contains(e.logs.String(), "mallory@example.com") {
		t.Error("refused logins are not logged")
	}
}

func TestViewerCannotApprove(t *testing.T) {
	e := newEnv(t, envOptions{tailnet: true, access: Access{
		Viewers:   []string{"viewer@example.com"},
		Approvers: map[string][]string{"dashboard": {"alice@example.com"}, "dashboard:dba": {"dba@example.com"}},
	}})
	a, decided := e.hold("dashboard", "POST https://api.github.com/repos/a/b/issues")
	viewer := e.client(&Identity{Login: "viewer@example.com"})
	page := e.do(viewer, "GET", "/approvals/"+a.ID, nil)
	if page.status != 200 || !strings.Contains(page.body, "View only") || strings.Contains(page.body, `id="approve"`) {
		t.Fatalf("viewer's approval page: %d %s", page.status, page.body)
	}
	for _, who := range []*http.Client{viewer, e.client(&Identity{Login: "dba@example.com"})} {
		tok := e.csrf(who)
		resp := e.do(who, "POST", "/approvals/"+a.ID, url.Values{"csrf": {tok}, "decision": {"approve"}})
		if resp.status != http.StatusForbidden || !strings.Contains(resp.body, "not an approver of dashboard") {
			t.Errorf("a non-approver's approval: %d %s", resp.status, resp.body)
		}
	}
	if got, _ := e.store.GetApproval(t.Context(), a.ID); !got.Pending() {
		t.Fatalf("the approval was decided: %+v", got)
	}
	list := e.do(viewer, "GET", "/api/approvals", nil)
	if !strings.Contains(list.body, `"can_decide":false`) {
		t.Errorf("viewer's list: %s", list.body)
	}

	alice := e.client(&Identity{Login: "alice@example.com"})
	if list := e.do(alice, "GET", "/api/approvals", nil); !strings.Contains(list.body, `"can_decide":true`) {
		t.Errorf("approver's list: %s", list.body)
	}
	resp := e.do(alice, "POST", "/approvals/"+a.ID, url.Values{"csrf": {e.csrf(alice)}, "decision": {"approve"}, "reason": {"looks fine"}})
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/approvals/"+a.ID {
		t.Fatalf("approve: %d %s", resp.status, resp.body)
	}
	select {
	case got := <-decided:
		if got.State != audit.ApprovalAllowed || got.DecidedBy != "dashboard:alice@example.com" || got.Reason != "looks fine" {
			t.Errorf("the waiter got %+v", got)
		}
	case <-time.After(time.Second):
		t.Fatal("the held action was not released at once")
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login()
	tok := e.csrf(c)
	other := e.login()
	otherTok := e.csrf(other)
	if tok == otherTok {
		t.Fatal("two sessions share a CSRF token")
	}
	a, _ := e.hold("dashboard", "DELETE https://api.github.com/repos/a/b")
	path := "/approvals/" + a.ID
	tests := []struct {
		name   string
		form   url.Values
		header []string
		want   int
	}{
		{"no token", url.Values{"decision": {"approve"}}, nil, http.StatusForbidden},
		{"wrong token", url.Values{"decision": {"approve"}, "csrf": {flip(tok)}}, nil, http.StatusForbidden},
		{"another session's token", url.Values{"decision": {"approve"}, "csrf": {otherTok}}, nil, http.StatusForbidden},
		{"cross-site", url.Values{"decision": {"approve"}, "csrf": {tok}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"foreign origin", url.Values{"decision": {"approve"}, "csrf": {tok}}, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"bad decision", url.Values{"decision": {"maybe"}, "csrf": {tok}}, nil, http.StatusBadRequest},
		{"reason too long", url.Values{"decision": {"deny"}, "csrf": {tok}, "reason": {strings.Repeat("x", 1001)}}, nil, http.StatusBadRequest},
		{"body over 64 KiB", url.Values{"decision": {"deny"}, "csrf": {tok}, "pad": {strings.Repeat("x", 70<<10)}}, nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.do(c, "POST", path, tt.form, tt.header...)
			if resp.status != tt.want {
				t.Errorf("%d, want %d: %s", resp.status, tt.want, resp.body)
			}
		})
	}
	if got, _ := e.store.GetApproval(t.Context(), a.ID); !got.Pending() {
		t.Fatalf("a refused request decided the approval: %+v", got)
	}
	// GET never decides.
	if resp := e.do(c, "GET", path+"?decision=approve&csrf="+tok, nil); resp.status != 200 {
		t.Errorf("GET: %d", resp.status)
	}
	// Same-origin with the header token works (what a script would send).
	resp := e.do(c, "POST", path, url.Values{"decision": {"deny"}}, csrfHeader, tok, "Sec-Fetch-Site", "same-origin",
		"Origin", e.base, "Accept", "application/json")
	if resp.status != 200 || !strings.Contains(resp.body, `"state":"denied"`) || !strings.Contains(resp.body, `"decided_by":"dashboard:local"`) {
		t.Fatalf("same-origin deny: %d %s", resp.status, resp.body)
	}
}

// flip changes the first character of a token.
func flip(tok string) string {
	if tok[0] == 'A' {
		return "B" + tok[1:]
	}
	return "A" + tok[1:]
}
