package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/judges/approval"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
)

const testToken = "test-token-0123456789abcdef"

// env is a dashboard over a real SQLite store and approval queue, served
// on a real listener.
type env struct {
	t       *testing.T
	store   *audit.SQLiteStore
	journal *audit.Journal
	queue   *approval.Queue
	srv     *Server
	base    string
	access  Access
	status  Status
	peers   sync.Map // client local address → Identity (tailnet mode)
	logs    *logBuffer
}

type envOptions struct {
	tailnet bool
	access  Access
	mask    func(string) string
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, access: o.access, logs: &logBuffer{}}
	dir := t.TempDir()
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	store.Logger = slog.New(slog.DiscardHandler)
	e.store = store
	j, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "journal"), BatchInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, store)
	if err != nil {
		t.Fatal(err)
	}
	e.journal = j
	logger := slog.New(slog.NewTextHandler(e.logs, nil))
	e.queue = approval.New(store, approval.Options{Owner: j.ID(), Poll: 20 * time.Millisecond, Logger: logger})
	e.status = Status{Path: "/p/ward.star", Files: []string{"/p/ward.star"}, Hash: "abc123", Mode: "enforce",
		Loaded: time.Now(), LastAttempt: time.Now(), LastError: "policy tests failed:\nward_test.star: test_x: boom",
		Endpoints: []Endpoint{{Name: "github", Protocol: "http", Hosts: []string{"api.github.com"},
			Inject: "bearer(<secret env:GITHUB_TOKEN>)", Hooks: []Hook{{Name: "on_request", Function: "check", Pos: "ward.star:3:1"}}}},
		Judges: []Judge{{Name: "dashboard", Kind: "dashboard", Pos: "ward.star:1:1", Timeout: time.Minute}}}
	cfg := Config{Store: store, Approvals: &testApprovals{store: store, queue: e.queue},
		Status: func() Status { return e.status }, Access: func() Access { return e.access },
		Token: testToken, Logger: logger, Poll: 20 * time.Millisecond, Mask: o.mask}
	if o.tailnet {
		cfg.Peer = func(c net.Conn) (Identity, bool) {
			v, ok := e.peers.Load(c.RemoteAddr().String())
			if !ok {
				return Identity{}, false
			}
			return v.(Identity), true
		}
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = e.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
		e.queue.Shutdown("test over")
		// The queue's poller (it has no Stop) ends on its next tick once
		// no wait is left; let it, before the store closes under it.
		time.Sleep(50 * time.Millisecond)
		j.Close()
		store.Close()
	})
	return e
}

// testApprovals is what the gateway wires: the store plus the queue.
type testApprovals struct {
	store *audit.SQLiteStore
	queue *approval.Queue
}

func (a *testApprovals) ListApprovals(ctx context.Context, f audit.ApprovalFilter) ([]audit.Approval, error) {
	return a.store.ListApprovals(ctx, f)
}

func (a *testApprovals) GetApproval(ctx context.Context, id string) (audit.Approval, error) {
	return a.store.GetApproval(ctx, id)
}

func (a *testApprovals) Decide(id, state, by, reason string) (audit.Approval, bool, error) {
	return a.queue.Decide(id, state, by, reason)
}

// client is a browser: a cookie jar, and on the tailnet an identity for
// every connection it opens. A nil identity on the tailnet is a peer the
// tailnet does not know.
func (e *env) client(id *Identity) *http.Client {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err == nil && id != nil {
			e.peers.Store(c.LocalAddr().String(), *id)
		}
		return c, err
	}}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login is a local browser that opened the printed URL.
func (e *env) login() *http.Client {
	e.t.Helper()
	c := e.client(nil)
	resp := e.do(c, "GET", "/?token="+testToken, nil)
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/" {
		e.t.Fatalf("login: %d %v %s", resp.status, resp.header, resp.body)
	}
	return c
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request; header pairs follow the body.
func (e *env) do(c *http.Client, method, path string, form url.Values, header ...string) response {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// csrf reads the CSRF token from a page.
func (e *env) csrf(c *http.Client) string {
	e.t.Helper()
	page := e.do(c, "GET", "/", nil)
	const marker = `<meta name="csrf-token" content="`
	i := strings.Index(page.body, marker)
	if i < 0 {
		e.t.Fatalf("no CSRF token in the page: %d %s", page.status, page.body)
	}
	rest := page.body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// record appends an action to the journal and waits until it is stored.
func (e *env) record(rec audit.Record) audit.Record {
	e.t.Helper()
	if rec.ID == "" {
		rec.ID = action.NewID()
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	if rec.Protocol == "" {
		rec.Protocol = "http"
	}
	if err := e.journal.Append(&rec); err != nil {
		e.t.Fatal(err)
	}
	if err := e.journal.Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	got, err := e.store.Get(context.Background(), rec.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// hold opens a pending approval of judge and returns it with a channel
// that receives the decision the waiter gets.
func (e *env) hold(judge, summary string) (audit.Approval, <-chan audit.Approval) {
	e.t.Helper()
	act := &action.Action{ID: action.NewID(), Time: time.Now(), Protocol: "http", Endpoint: "github",
		Agent: action.Agent{Name: "bot", User: "bot"}, Facts: testFacts{summary: summary}}
	w, err := e.queue.Open(context.Background(), approval.Request{Judge: judge, Action: act, Note: "write by bot", Timeout: time.Minute})
	if err != nil {
		e.t.Fatal(err)
	}
	out := make(chan audit.Approval, 1)
	go func() { out <- w.Wait(context.Background()) }()
	return w.Approval, out
}

// testFacts are minimal facts for held actions.
type testFacts struct{ summary string }

func (f testFacts) String() string        { return f.summary }
func (f testFacts) Type() string          { return "test_facts" }
func (f testFacts) Freeze()               {}
func (f testFacts) Truth() starlark.Bool  { return true }
func (f testFacts) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable") }
func (f testFacts) Attr(string) (starlark.Value, error) {
	return nil, nil
}
func (f testFacts) AttrNames() []string { return nil }
func (f testFacts) Summary() string     { return f.summary }
func (f testFacts) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"summary": f.summary, "path": "/repos/a/b"})
}

// sse reads server-sent events from a stream.
type sse struct {
	body io.ReadCloser
	r    *bufio.Reader
}

type sseEvent struct{ id, name, data string }

func (e *env) stream(c *http.Client, path string, header ...string) *sse {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c2 := *c
	c2.Timeout = 0
	resp, err := c2.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		data, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("events: %d %s", resp.StatusCode, data)
	}
	s := &sse{body: resp.Body, r: bufio.NewReader(resp.Body)}
	e.t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next returns the next named event, within d.
func (s *sse) next(t *testing.T, d time.Duration) (sseEvent, error) {
	t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev sseEvent
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				ch <- result{err: err}
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "" && ev.name != "":
				ch <- result{ev: ev}
				return
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	select {
	case r := <-ch:
		return r.ev, r.err
	case <-time.After(d):
		s.body.Close()
		return sseEvent{}, fmt.Errorf("no event within %s", d)
	}
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
