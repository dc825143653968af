package postgres

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/starlark/policy"
)

// session relays one agent connection to its own upstream session.
type session struct {
	srv        *Server
	agentConn  net.Conn
	reader     *agentReader // reads agentConn for be
	be         *pgproto3.Backend
	up         *upstream
	agent      action.Agent
	user       string // the upstream role
	database   string
	key        cancelKey
	maxMessage int
	maxQuery   int // SQL text longer than this is refused unanalysed
	ctx        context.Context
	stop       context.CancelFunc

	aw agentWriter

	// Owned by the frontend loop.
	upBuf      []byte
	prepared   map[string]*prepared
	discarding bool // after a denial in an extended-protocol batch, until Sync
	nonce      string
	markerSeq  uint64
	syncsSent  int64 // Query, Sync and FunctionCall messages forwarded
	beganAt    int64 // syncsSent when a BEGIN was last forwarded
	barrierAt  int64 // no new statement until this many ReadyForQuery
	batchRuns  bool  // a Bind or Execute was forwarded since the last Sync or Query

	// Shared with the relay.
	status  atomic.Uint32 // last ReadyForQuery status
	rfqs    atomic.Int64  // ReadyForQuery messages received
	mmu     sync.Mutex
	markers []marker

	// Forwarded actions awaiting their results, and the first server
	// error of the batch being answered (see outcome.go).
	omu      sync.Mutex
	open     []openAction
	batchErr string

	// heldInTx is how long judges have held this connection's statements
	// inside transactions (owned by the frontend loop).
	heldInTx time.Duration

	dmu          sync.Mutex
	decideCancel context.CancelFunc
	cancelled    bool

	closeOnce sync.Once
}

// cancelKey is the BackendKeyData the gateway gave an agent.
type cancelKey struct{ pid, secret uint32 }

// handle serves one agent connection from its first byte to its close.
func (s *Server) handle(conn net.Conn) {
	defer conn.Close()
	start := time.Now()
	conn.SetDeadline(start.Add(s.startupTimeout()))
	snap := s.Engine.Snapshot()
	ep := snap.Policy.Endpoint(s.Endpoint)
	if ep == nil || ep.Postgres == nil {
		fatalTo(conn, "08006", fmt.Sprintf("ward: endpoint %q is no longer declared", s.Endpoint))
		return
	}
	st, err := s.readStartup(conn, ep)
	if err != nil {
		if !errors.Is(err, errCancelled) {
			s.logger().Debug("postgres startup failed", "endpoint", s.Endpoint, "remote", conn.RemoteAddr().String(), "error", err)
			fatalTo(conn, "08P01", "ward: "+err.Error())
		}
		return
	}
	defer st.conn.Close()
	sess, err := s.open(snap, ep, st)
	if err != nil {
		s.logger().Info("postgres session refused", "endpoint", s.Endpoint, "remote", conn.RemoteAddr().String(), "error", err)
		code := "28000"
		var se *sqlstateError
		if errors.As(err, &se) {
			code = se.code
		}
		// The upstream's error names the role it logged in as, which can
		// be a secret (dynamic credentials): mask secret values.
		msg := []byte("ward: " + err.Error())
		proxy.Mask(msg, snap.SecretValues())
		fatalTo(st.conn, code, string(msg))
		return
	}
	st.conn.SetDeadline(time.Time{})
	if !s.register(sess) {
		fatalTo(st.conn, "57P01", "ward: the gateway is shutting down")
		sess.close()
		return
	}
	defer s.unregister(sess)
	s.logger().Debug("postgres session opened", "endpoint", s.Endpoint, "agent", sess.agent.Name,
		"database", sess.database, "upstream_pid", sess.up.pid, "took", time.Since(start))
	sess.run()
}

// sqlstateError carries the SQLSTATE a startup failure reports.
type sqlstateError struct {
	code string
	err  error
}

func (e *sqlstateError) Error() string { return e.err.Error() }
func (e *sqlstateError) Unwrap() error { return e.err }

func withCode(code string, err error) error { return &sqlstateError{code: code, err: err} }

// open authenticates the agent, logs in upstream and greets the agent.
func (s *Server) open(snap *proxy.Snapshot, ep *policy.Endpoint, st *startup) (*session, error) {
	if err := checkParams(st.params); err != nil {
		return nil, withCode("08004", err)
	}
	database := st.params["database"]
	if database == "" {
		database = st.params["user"]
	}
	if want := ep.Postgres.Database; want != "" {
		if database != want {
			return nil, withCode("3D000", fmt.Errorf("endpoint %s serves database %q only; connect with dbname=%s", ep.Name, want, want))
		}
	}
	if database == "" {
		return nil, withCode("3D000", errors.New("no database named in the startup message"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.startupTimeout())
	defer cancel()
	agent, err := s.identify(ctx, st)
	if err != nil {
		return nil, withCode("28000", err)
	}
	up, err := s.connectUpstream(ctx, snap, ep, database, st.params)
	if err != nil {
		return nil, withCode("08006", fmt.Errorf("cannot log in to the database: %w", err))
	}
	sess := &session{srv: s, agentConn: st.conn, reader: st.reader, be: st.be, up: up, agent: agent, user: ep.Postgres.User,
		database: database, maxMessage: int(ep.Postgres.MaxMessage), maxQuery: int(ep.Postgres.MaxQuery),
		prepared: map[string]*prepared{}}
	sess.ctx, sess.stop = context.WithCancel(context.Background())
	sess.aw.conn = st.conn
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		up.conn.Close()
		return nil, err
	}
	sess.key = cancelKey{pid: up.pid, secret: binary.BigEndian.Uint32(rnd[:4])}
	sess.nonce = hex.EncodeToString(rnd[4:])
	sess.status.Store(uint32(up.txStatus))
	if err := sess.greet(st.version); err != nil {
		up.conn.Close()
		return nil, err
	}
	return sess, nil
}

// greet finishes the agent's startup as the server would.
func (sess *session) greet(version uint32) error {
	msgs := []pgproto3.BackendMessage{}
	if version != pgproto3.ProtocolVersion30 {
		msgs = append(msgs, &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0})
	}
	msgs = append(msgs, &pgproto3.AuthenticationOk{})
	for k, v := range sess.up.params {
		msgs = append(msgs, &pgproto3.ParameterStatus{Name: k, Value: v})
	}
	var secret [4]byte
	binary.BigEndian.PutUint32(secret[:], sess.key.secret)
	msgs = append(msgs, &pgproto3.BackendKeyData{ProcessID: sess.key.pid, SecretKey: secret[:]},
		&pgproto3.ReadyForQuery{TxStatus: byte(sess.status.Load())})
	for _, m := range msgs {
		sess.aw.append(m)
	}
	return sess.aw.flush()
}

// run relays until either side closes.
func (sess *session) run() {
	sess.be.SetMaxBodyLen(sess.maxMessage)
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		sess.relay()
		sess.close()
	}()
	sess.front()
	sess.close()
	<-relayDone
	sess.abandoned()
}

// close ends both connections once.
func (sess *session) close() {
	sess.closeOnce.Do(func() {
		sess.stop()
		sess.agentConn.Close()
		sess.up.conn.Close()
	})
}

// terminate sends the agent a FATAL error and closes the session.
func (sess *session) terminate(code, msg string) {
	// The relay may hold aw.mu in a write to an agent that does not read;
	// a deadline ends that write (and bounds this one).
	sess.aw.conn.SetWriteDeadline(time.Now().Add(time.Second))
	sess.aw.mu.Lock()
	if !sess.aw.closed {
		sess.aw.buf, _ = (&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg}).Encode(sess.aw.buf)
		sess.aw.conn.Write(sess.aw.buf)
		sess.aw.buf = sess.aw.buf[:0]
		sess.aw.closed = true
	}
	sess.aw.mu.Unlock()
	sess.close()
}

// agentWriter buffers messages to the agent. The relay is its main
// writer; terminate may write from elsewhere.
type agentWriter struct {
	mu     sync.Mutex
	conn   net.Conn
	buf    []byte
	closed bool
}

func (w *agentWriter) append(m pgproto3.BackendMessage) {
	w.mu.Lock()
	w.buf, _ = m.Encode(w.buf)
	w.mu.Unlock()
}

func (w *agentWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return net.ErrClosed
	}
	_, err := w.conn.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// fatalTo writes one FATAL ErrorResponse to a connection that has no
// session (yet).
func fatalTo(conn net.Conn, code, msg string) {
	buf, err := (&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg}).Encode(nil)
	if err == nil {
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		conn.Write(buf)
	}
}
