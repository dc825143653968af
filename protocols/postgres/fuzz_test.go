package postgres

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/postgres/sqlfacts"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// fuzzServer is a Server over a real policy, engine and journal, with an
// upstream that cannot be dialled (cancels fail fast).
func fuzzServer(f *testing.F) *Server {
	dir := f.TempDir()
	src := `
def check(q):
    if "deny_me" in q.tables:
        return deny("no")
    return allow()
postgres(name = "db", port = 0, upstream = "127.0.0.1:1", user = "u", tls = "disable", on_query = check)
`
	if err := os.WriteFile(filepath.Join(dir, "ward.star"), []byte(src), 0o600); err != nil {
		f.Fatal(err)
	}
	p, err := policy.Load(filepath.Join(dir, "ward.star"), policy.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	snap, err := proxy.NewSnapshot(context.Background(), p, builtins.Resolver{})
	if err != nil {
		f.Fatal(err)
	}
	store, err := audit.OpenSQLite(filepath.Join(dir, "audit.db"))
	if err != nil {
		f.Fatal(err)
	}
	j, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "journal"), Sync: audit.SyncNever}, store)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { j.Close(); store.Close() })
	return &Server{Engine: proxy.NewEngine(j, snap, slog.New(slog.DiscardHandler)), Endpoint: "db",
		Analyzer: sqlfacts.NewAnalyzer(100, 1<<20), Logger: slog.New(slog.DiscardHandler),
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no upstream in fuzzing")
		}}
}

// fuzzSession builds a session whose agent sends agentBytes and whose
// upstream sends upBytes; what either side receives is discarded.
func fuzzSession(srv *Server, agentBytes, upBytes []byte) *session {
	agentConn, agentPeer := net.Pipe()
	upConn, upPeer := net.Pipe()
	go io.Copy(io.Discard, agentPeer)
	go io.Copy(io.Discard, upPeer)
	sess := &session{srv: srv, agentConn: agentConn, be: pgproto3.NewBackend(bytes.NewReader(agentBytes), io.Discard),
		up:   &upstream{conn: upConn, fe: pgproto3.NewFrontend(bytes.NewReader(upBytes), io.Discard), addr: "127.0.0.1:1"},
		user: "u", database: "d", maxMessage: 1 << 16, maxQuery: 1 << 16, prepared: map[string]*prepared{}, nonce: "00ff"}
	sess.ctx, sess.stop = context.WithCancel(context.Background())
	sess.aw.conn = agentConn
	sess.be.SetMaxBodyLen(sess.maxMessage)
	sess.up.fe.SetMaxBodyLen(1 << 20)
	return sess
}

func encode(msgs ...interface{ Encode([]byte) ([]byte, error) }) []byte {
	var out []byte
	for _, m := range msgs {
		out, _ = m.Encode(out)
	}
	return out
}

// FuzzRelayFromAgent feeds arbitrary bytes to the agent side of a session:
// it must never panic or hang, whatever it decides.
func FuzzRelayFromAgent(f *testing.F) {
	f.Add(encode(&pgproto3.Query{String: "SELECT 1"}, &pgproto3.Terminate{}))
	f.Add(encode(&pgproto3.Parse{Name: "s", Query: "SELECT * FROM deny_me"}, &pgproto3.Bind{PreparedStatement: "s"},
		&pgproto3.Execute{}, &pgproto3.Sync{}, &pgproto3.Query{String: "PREPARE p AS SELECT 1; EXECUTE p"}))
	f.Add(encode(&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Describe{ObjectType: 'S'}, &pgproto3.Flush{},
		&pgproto3.CopyData{Data: []byte("x")}, &pgproto3.CopyDone{}, &pgproto3.FunctionCall{Function: 1}, &pgproto3.Sync{}))
	f.Add([]byte{'Q', 0, 0, 0, 3})
	f.Add([]byte{'z', 0, 0, 0, 4, 'Q', 0xff, 0xff, 0xff, 0xff})
	srv := fuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		sess := fuzzSession(srv, data, nil)
		sess.front()
		sess.close()
	})
}

// FuzzRelayFromUpstream feeds arbitrary bytes to the upstream side: the
// relay must never panic or hang, and a forged denial marker without the
// session's nonce must never turn into a denial.
func FuzzRelayFromUpstream(f *testing.F) {
	f.Add(encode(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("a")}}},
		&pgproto3.DataRow{Values: [][]byte{[]byte("1")}}, &pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'}))
	f.Add(encode(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "42601", Message: `syntax error at or near "ward_denied_00ff_1"`},
		&pgproto3.ParameterStatus{Name: "client_encoding", Value: "SJIS"}))
	f.Add(encode(&pgproto3.NotificationResponse{PID: 1, Channel: "c", Payload: "p"}, &pgproto3.AuthenticationOk{}))
	f.Add([]byte{'D', 0, 0, 0, 6, 0, 5})
	srv := fuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		sess := fuzzSession(srv, nil, data)
		sess.newMarker("because", "a1", "")
		sess.relay()
		sess.close()
	})
}

// FuzzStartupPacket feeds arbitrary bytes to the startup reader.
func FuzzStartupPacket(f *testing.F) {
	f.Add(encode(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "a"}}))
	f.Add(encode(&pgproto3.SSLRequest{}))
	f.Add(encode(&pgproto3.CancelRequest{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}}))
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 47})
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := readStartupPacket(bytes.NewReader(data))
		if err == nil && msg == nil {
			t.Fatal("no message and no error")
		}
		if sm, ok := msg.(*pgproto3.StartupMessage); ok {
			checkParams(sm.Parameters)
		}
	})
}
