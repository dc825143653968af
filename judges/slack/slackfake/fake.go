// Package slackfake runs Slack's Web API and Socket Mode offline for
// tests, on slack-go's own slacktest server: slacktest answers
// chat.postMessage, chat.postEphemeral and apps.connections.open; this
// package adds chat.update, usergroups.users.list and a Socket Mode /ws
// endpoint that says hello, delivers interactive envelopes and reads their
// acknowledgements. A recording HTTP client keeps every Web API call the
// code under test made.
package slackfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack/slacktest"
)

// Call is one Web API call: its method ("chat.postMessage") and form.
type Call struct {
	Method string
	Form   url.Values
}

// Fake is an offline Slack.
type Fake struct {
	*slacktest.Server
	t testing.TB

	mu       sync.Mutex
	calls    []Call
	groups   map[string][]string
	failPost string // chat.postMessage answers this Slack error
	delays   map[string]time.Duration

	conn     *wsConn // the newest Socket Mode connection
	acks     chan string
	envelope int
}

// wsConn serializes writes to one Socket Mode connection.
type wsConn struct {
	mu sync.Mutex
	c  *websocket.Conn
}

func (w *wsConn) write(v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.c.WriteJSON(v)
}

// New starts a fake Slack; it stops when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{t: t, groups: map[string][]string{}, acks: make(chan string, 64)}
	f.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.update", f.update)
		c.Handle("/usergroups.users.list", f.groupMembers)
		c.Handle("/ws", f.socket)
	})
	f.Server.Start()
	t.Cleanup(f.Server.Stop)
	return f
}

// APIURL is the Web API base URL to give slack.OptionAPIURL.
func (f *Fake) APIURL() string { return f.GetAPIURL() }

// SetGroup makes usergroups.users.list answer members for group.
func (f *Fake) SetGroup(group string, members ...string) {
	f.mu.Lock()
	f.groups[group] = members
	f.mu.Unlock()
}

// FailPosts makes chat.postMessage fail with the Slack error code given
// ("" to stop).
func (f *Fake) FailPosts(code string) {
	f.mu.Lock()
	f.failPost = code
	f.mu.Unlock()
}

// Delay makes every call of method take d before it is answered (a slow
// or hung Slack); the call's context still cuts it short.
func (f *Fake) Delay(method string, d time.Duration) {
	f.mu.Lock()
	if f.delays == nil {
		f.delays = map[string]time.Duration{}
	}
	f.delays[method] = d
	f.mu.Unlock()
}

// Client is an HTTP client that records each call before slacktest
// answers it.
func (f *Fake) Client() *http.Client { return &http.Client{Transport: recorder{f}} }

type recorder struct{ f *Fake }

// RoundTrip records the call, then sends it (or answers a configured failure).
func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				form = url.Values{}
				for k, v := range m {
					if s, ok := v.(string); ok {
						form.Set(k, s)
					} else {
						b, _ := json.Marshal(v)
						form.Set(k, string(b))
					}
				}
			}
		}
		method := strings.TrimPrefix(req.URL.Path, "/")
		r.f.mu.Lock()
		r.f.calls = append(r.f.calls, Call{Method: method, Form: form})
		fail := r.f.failPost
		delay := r.f.delays[method]
		r.f.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
		}
		if fail != "" && method == "chat.postMessage" {
			body, _ := json.Marshal(map[string]any{"ok": false, "error": fail})
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// Calls returns the recorded calls of one method ("" for all).
func (f *Fake) Calls(method string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitCalls waits until n calls of method were made, and returns them.
func (f *Fake) WaitCalls(method string, n int) []Call {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if calls := f.Calls(method); len(calls) >= n {
			return calls
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("slackfake: timed out waiting for %d %s calls (have %d)", n, method, len(f.Calls(method)))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Text is everything a call sent that Slack would show: text and blocks.
func (c Call) Text() string { return c.Form.Get("text") + "\n" + c.Form.Get("blocks") }

// socket is the Socket Mode endpoint: hello, pings, and acks read back.
func (f *Fake) socket(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	conn := &wsConn{c: c}
	if err := conn.write(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A0WARD"}, "debug_info": map[string]any{"host": "slackfake"}}); err != nil {
		return
	}
	f.mu.Lock()
	f.conn = conn
	f.mu.Unlock()
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			conn.mu.Lock()
			err := c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
			conn.mu.Unlock()
			if err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	for {
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			return
		}
		if id, ok := m["envelope_id"].(string); ok {
			f.acks <- id
		}
	}
}

// Interactive sends payload over the newest Socket Mode connection as an
// "interactive" envelope and waits for the client's acknowledgement.
func (f *Fake) Interactive(payload []byte) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var conn *wsConn
	for conn == nil {
		f.mu.Lock()
		conn = f.conn
		f.envelope++
		n := f.envelope
		f.mu.Unlock()
		if conn != nil {
			id := fmt.Sprintf("env-%d", n)
			if err := conn.write(map[string]any{"envelope_id": id, "type": "interactive",
				"accepts_response_payload": false, "payload": json.RawMessage(payload)}); err != nil {
				f.t.Fatalf("slackfake: write envelope: %v", err)
			}
			f.waitAck(id, deadline)
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatal("slackfake: no Socket Mode connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *Fake) waitAck(id string, deadline time.Time) {
	f.t.Helper()
	for {
		select {
		case got := <-f.acks:
			if got == id {
				return
			}
		case <-time.After(time.Until(deadline)):
			f.t.Fatalf("slackfake: envelope %s was never acknowledged", id)
		}
	}
}

// Connected reports whether a Socket Mode client has connected.
func (f *Fake) Connected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conn != nil
}

func (f *Fake) update(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	writeJSON(w, map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": r.Form.Get("ts"), "text": r.Form.Get("text")})
}

func (f *Fake) groupMembers(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	members, ok := f.groups[r.Form.Get("usergroup")]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, map[string]any{"ok": false, "error": "no_such_subteam"})
		return
	}
	writeJSON(w, map[string]any{"ok": true, "users": members})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// ClickPayload is the block_actions payload Slack sends when user presses
// Approve (or Deny) on the message of approvalID.
func ClickPayload(approvalID, user string, approve bool) []byte {
	id := "ward_deny"
	if approve {
		id = "ward_approve"
	}
	p, _ := json.Marshal(map[string]any{
		"type":      "block_actions",
		"user":      map[string]any{"id": user, "name": strings.ToLower(user)},
		"channel":   map[string]any{"id": "C0AGENTOPS"},
		"container": map[string]any{"type": "message", "channel_id": "C0AGENTOPS", "message_ts": "1.0"},
		"actions":   []any{map[string]any{"type": "button", "action_id": id, "block_id": "ward_approval", "value": approvalID, "action_ts": "1.1"}},
	})
	return p
}

// SignedRequest builds an HTTP interactivity request for payload, signed
// with secret at time at, as Slack sends it.
func SignedRequest(target string, payload []byte, secret string, at time.Time) *http.Request {
	body := "payload=" + url.QueryEscape(string(payload))
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return req
}
