package postgres

import (
	"context"
	"encoding/binary"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// cancel serves a CancelRequest: the key is the one the gateway gave the
// agent; the cancel goes to the matching upstream session with the
// server's own key.
func (s *Server) cancel(m *pgproto3.CancelRequest) {
	if len(m.SecretKey) != 4 {
		return
	}
	key := cancelKey{pid: m.ProcessID, secret: binary.BigEndian.Uint32(m.SecretKey)}
	s.mu.Lock()
	sess := s.keys[key]
	s.mu.Unlock()
	if sess == nil {
		return
	}
	sess.cancelDecision()
	sess.cancelUpstream()
}

// cancelDecision stops waiting for a verdict (a judge) on the statement
// being decided, if any.
func (sess *session) cancelDecision() {
	sess.dmu.Lock()
	defer sess.dmu.Unlock()
	if sess.decideCancel != nil {
		sess.cancelled = true
		sess.decideCancel()
	}
}

// cancelUpstream asks the server to cancel what the session runs.
func (sess *session) cancelUpstream() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dial := sess.srv.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", sess.up.addr)
	if err != nil {
		sess.srv.logger().Warn("postgres cancel: cannot reach the database", "endpoint", sess.srv.Endpoint, "error", err)
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf, err := (&pgproto3.CancelRequest{ProcessID: sess.up.pid, SecretKey: sess.up.secret}).Encode(nil)
	if err == nil {
		_, err = conn.Write(buf)
	}
	if err == nil {
		// The server closes the connection when it has handled the request.
		var b [1]byte
		conn.Read(b[:])
	}
}
