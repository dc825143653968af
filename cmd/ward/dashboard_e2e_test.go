package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

const dashboardE2EPolicy = `
ops = dashboard.approver(timeout = "2m")

def check(req):
    if req.method in ("GET", "HEAD"):
        return allow()
    return ops.ask(req, note = "write by " + req.agent.name)

http(
    name = "api",
    hosts = ["UPSTREAM"],
    inject = bearer(secrets.env("E2E_TOKEN")),
    ca = secrets.file("upstream-ca.pem"),
    on_request = check,
)
`

// chromiumPath finds Debian's chromium; without it the test skips
// locally and fails in CI.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run must install the Debian package chromium")
	}
	t.Skip("chromium is not installed (CI installs it: apt-get install -y chromium)")
	return ""
}

// artifactDir is where the test leaves its screenshots:
// $WARD_TEST_ARTIFACTS when set, else the test's temp dir.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("WARD_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// newBrowser starts a headless Chromium with a fresh profile.
func newBrowser(t *testing.T, path string) context.Context {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// curlResult is what a curl run in the background printed.
type curlResult struct {
	out  string
	code int
}

func (e *e2e) curlAsync(t *testing.T, args ...string) <-chan curlResult {
	out := make(chan curlResult, 1)
	go func() {
		o, code := curl(t, append([]string{"--proxy", "http://" + e.gw.addr, "--cacert", e.ca}, args...)...)
		out <- curlResult{o, code}
	}()
	return out
}

func TestDashboardInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	e := startE2EWith(t, dashboardE2EPolicy, "--dashboard-port", "0")
	dashURL := strings.TrimSpace(e.gw.printed("ward: dashboard at "))
	if !strings.Contains(dashURL, "/?token=") {
		t.Fatalf("printed dashboard URL %q has no token", dashURL)
	}
	base := strings.SplitN(dashURL, "/?", 2)[0]
	artifacts := artifactDir(t)
	downloads := t.TempDir()
	ctx := newBrowser(t, chromium)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			shot(t, ctx, filepath.Join(artifacts, "dashboard-failure.png"))
			t.Fatalf("%s: %v\ngateway log:\n%s", what, err, e.gw.stderr)
		}
	}
	// rowLink is the link in the first row of a table body whose text
	// contains text.
	rowLink := func(tbody, text string) chromedp.JSPath {
		return chromedp.JSPath(fmt.Sprintf(`[...document.querySelectorAll("#%s tr")].find(tr => tr.textContent.includes(%q)).querySelector("td.summary a")`, tbody, text))
	}
	// waitFor polls a JavaScript predicate in the page.
	waitFor := func(what, js string) {
		t.Helper()
		run(what, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(30*time.Second)))
	}

	// Without the token, the browser gets nothing but the advice.
	run("open without token", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#error")))
	if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#error"))); !strings.Contains(text, "token") {
		t.Errorf("without the token the page says %q", text)
	}

	run("open the printed URL", chromedp.Navigate(dashURL), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != base+"/" {
		t.Errorf("after login the URL is %q (the token must not stay in it)", loc)
	}

	t.Log("a live action appears")
	if out, code := e.curl(t, e.url("/repos/a/b")); code != 0 || !strings.Contains(out, `"method":"GET"`) {
		t.Fatalf("curl GET: %d %s", code, out)
	}
	waitFor("the GET in the feed", `[...document.querySelectorAll("#feed-body tr.action")].some(tr => tr.textContent.includes("GET https://`+e.up.HostPort()+`/repos/a/b") && tr.textContent.includes("allow"))`)
	shot(t, ctx, filepath.Join(artifacts, "dashboard-feed.png"))

	t.Log("approve a held action")
	approved := e.curlAsync(t, "-X", "POST", "-d", `{"title":"hello"}`, "-w", "\nstatus=%{http_code}\n", e.url("/repos/a/b/issues"))
	waitFor("the held POST in pending approvals", `[...document.querySelectorAll("#approvals-body tr.approval")].some(tr => tr.textContent.includes("/repos/a/b/issues"))`)
	if n := len(e.up.Received()); n != 1 {
		t.Fatalf("the held request reached the upstream before approval (%d requests)", n)
	}
	shot(t, ctx, filepath.Join(artifacts, "dashboard-pending.png"))
	run("open the held action", chromedp.Click(rowLink("approvals-body", "/repos/a/b/issues")),
		chromedp.WaitVisible(chromedp.CSS("#approve")))
	run("approve it", chromedp.SendKeys(chromedp.CSS("#reason"), "ship it"), chromedp.Click(chromedp.CSS("#approve")),
		chromedp.WaitVisible(chromedp.CSS("#outcome")))
	select {
	case r := <-approved:
		if r.code != 0 || !strings.Contains(r.out, "status=200") {
			t.Fatalf("approved request: %d %s", r.code, r.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the approved request did not complete")
	}
	if got := e.up.Received(); len(got) != 2 || got[1].Method != "POST" || got[1].Target != "/repos/a/b/issues" || got[1].Body != `{"title":"hello"}` {
		t.Fatalf("the upstream received %+v", got)
	}
	if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#outcome"))); !strings.Contains(text, "dashboard:local") || !strings.Contains(text, "ship it") {
		t.Errorf("outcome shown: %q", text)
	}
	shot(t, ctx, filepath.Join(artifacts, "dashboard-approved.png"))

	t.Log("deny another")
	denied := e.curlAsync(t, "-X", "DELETE", "-w", "\nstatus=%{http_code}\n", e.url("/repos/a/b"))
	run("back to the feed", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	waitFor("the held DELETE in pending approvals", `[...document.querySelectorAll("#approvals-body tr.approval")].some(tr => tr.textContent.includes("DELETE"))`)
	run("open and deny it", chromedp.Click(rowLink("approvals-body", "DELETE")),
		chromedp.WaitVisible(chromedp.CSS("#deny")), chromedp.SendKeys(chromedp.CSS("#reason"), "not on a Friday"),
		chromedp.Click(chromedp.CSS("#deny")), chromedp.WaitVisible(chromedp.CSS("#outcome")))
	select {
	case r := <-denied:
		if !strings.Contains(r.out, "status=403") || !strings.Contains(r.out, `"reason":"not on a Friday"`) {
			t.Fatalf("denied request: %d %s", r.code, r.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the denied request did not complete")
	}
	if n := len(e.up.Received()); n != 2 {
		t.Fatalf("the denied request reached the upstream")
	}

	t.Log("a decision made with ward deny shows on the open page")
	elsewhere := e.curlAsync(t, "-X", "PUT", "-w", "\nstatus=%{http_code}\n", e.url("/repos/a/b/topics"))
	run("back to the feed", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	waitFor("the held PUT in pending approvals", `[...document.querySelectorAll("#approvals-body tr.approval")].some(tr => tr.textContent.includes("PUT"))`)
	run("open it", chromedp.Click(rowLink("approvals-body", "PUT")), chromedp.WaitVisible(chromedp.CSS("#approve")))
	approvalID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname.split("/").pop()`))
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := ward(t, nil, "deny", "--state-dir", e.state, "--as", "bob", "--reason", "use the PR", approvalID); code != 0 {
		t.Fatalf("ward deny: %d %s%s", code, out, errOut)
	}
	run("the page shows the outcome", chromedp.WaitVisible(chromedp.CSS("#outcome")))
	if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#outcome"))); !strings.Contains(text, "cli:bob") || !strings.Contains(text, "use the PR") {
		t.Errorf("outcome shown: %q", text)
	}
	if present, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("approve") !== null`)); present {
		t.Error("the Approve button is still there after the decision")
	}
	if r := <-elsewhere; !strings.Contains(r.out, "status=403") || !strings.Contains(r.out, "use the PR") {
		t.Fatalf("request denied with ward deny: %d %s", r.code, r.out)
	}

	t.Log("download a fixture and run ward test on it")
	run("open the approved action from the feed", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	waitFor("the approved POST in the feed", `[...document.querySelectorAll("#feed-body tr.action")].some(tr => tr.textContent.includes("/repos/a/b/issues") && tr.textContent.includes("dashboard:local"))`)
	run("click it", chromedp.Click(rowLink("feed-body", "/repos/a/b/issues")),
		chromedp.WaitVisible(chromedp.CSS("#download-fixture")))
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname.split("/").pop()`))
	if err != nil || !strings.HasPrefix(id, "a") {
		t.Fatalf("action id from the page: %q %v", id, err)
	}
	shot(t, ctx, filepath.Join(artifacts, "dashboard-action.png"))
	run("download", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
		return err
	}), chromedp.Click(chromedp.CSS("#download-fixture")))
	fixture := filepath.Join(downloads, id+".fixture.json")
	downloaded := waitForFile(t, fixture)
	want, _, code := ward(t, nil, "fixture", "--state-dir", e.state, id)
	if code != 0 || downloaded != want {
		t.Fatalf("the download differs from ward fixture (%d):\n%s\nwant\n%s", code, downloaded, want)
	}
	out, errOut, code := ward(t, nil, "test", "--config", filepath.Join(e.dir, "ward.star"), fixture)
	if code != 0 || !strings.Contains(out+errOut, "ok") {
		t.Fatalf("ward test on the downloaded fixture: %d\n%s%s", code, out, errOut)
	}
	t.Logf("ward test: %s", strings.TrimSpace(out))
	t.Logf("screenshots in %s", artifacts)
}

// shot saves a screenshot of the whole page.
func shot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 is PNG
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		t.Logf("screenshot %s: %v", path, err)
	}
}

// waitForFile returns the contents of path once a download has finished.
func waitForFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			if _, err := os.Stat(path + ".crdownload"); err != nil {
				return string(data)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	t.Fatalf("no download at %s (folder has %v)", path, fmt.Sprint(entries))
	return ""
}

func TestCheckShowsTheDashboard(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ward.star")
	src := "gateway(dashboard_port = 8081, dashboard_viewers = [\"tag:oncall\"])\nops = dashboard.approver(approvers = [\"alice@example.com\"])\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := ward(t, nil, "check", "--config", path)
	if code != 0 || !strings.Contains(out, "dashboard: port 8081, viewers tag:oncall") || !strings.Contains(out, "judge dashboard declared at") {
		t.Fatalf("ward check: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = ward(t, nil, "gateway", "--help")
	if code != 0 || !strings.Contains(out+errOut, "-dashboard-port") {
		t.Errorf("ward gateway --help: %s%s", out, errOut)
	}
}
