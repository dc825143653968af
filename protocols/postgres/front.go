package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgproto3"
)

// upFlushAt is how much the gateway buffers for the upstream before it
// writes, for messages that need no immediate answer (COPY data).
const upFlushAt = 64 << 10

// front reads the agent's messages, decides them, and forwards what is
// allowed. It returns when the agent leaves or the session ends.
func (sess *session) front() {
	for {
		msg, err := sess.be.Receive()
		if err != nil {
			sess.agentGone(err)
			return
		}
		if err := sess.handleFront(msg); err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				sess.srv.logger().Debug("postgres session ended", "endpoint", sess.srv.Endpoint, "error", err)
			}
			return
		}
	}
}

// agentGone ends the session after a failed read from the agent.
func (sess *session) agentGone(err error) {
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	switch {
	case errors.As(err, &tooBig):
		sess.terminate("54000", fmt.Sprintf("ward: a message of %d bytes exceeds max_message (%d bytes)", tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		// The agent left. A statement still running upstream is cancelled
		// so the server does not finish work nobody waits for.
		if sess.rfqs.Load() < sess.syncsSent {
			sess.cancelUpstream()
		}
	default:
		sess.terminate("08P01", "ward: invalid message from the client: "+err.Error())
	}
}

// handleFront handles one agent message.
func (sess *session) handleFront(msg pgproto3.FrontendMessage) error {
	if sess.discarding {
		switch msg.(type) {
		case *pgproto3.Sync:
			sess.discarding = false
		case *pgproto3.Flush, *pgproto3.Terminate:
		default:
			return nil // the server would skip it too; nothing of it goes upstream
		}
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		return sess.onQuery(m)
	case *pgproto3.Parse:
		return sess.onParse(m)
	case *pgproto3.Bind:
		sess.batchRuns = true
		return sess.onBind(m)
	case *pgproto3.Close:
		if m.ObjectType == 'S' {
			delete(sess.prepared, m.Name)
			sess.closed(m.Name)
		}
		return sess.forward(m, false)
	case *pgproto3.Describe:
		return sess.forward(m, false)
	case *pgproto3.Execute:
		sess.batchRuns = true
		return sess.forward(m, false)
	case *pgproto3.Sync:
		sess.syncsSent++
		sess.batchRuns = false
		return sess.forward(m, true)
	case *pgproto3.Flush, *pgproto3.CopyDone, *pgproto3.CopyFail:
		return sess.forward(m, true)
	case *pgproto3.CopyData:
		return sess.forward(m, len(sess.upBuf) >= upFlushAt)
	case *pgproto3.FunctionCall:
		return sess.denySimple("the fastpath function-call protocol names functions by OID, which ward cannot check; call the function in SQL", "", "")
	case *pgproto3.Terminate:
		sess.forward(m, true)
		return io.EOF
	}
	sess.terminate("08P01", fmt.Sprintf("ward: unexpected message %T", msg))
	return net.ErrClosed
}

// forward appends m to the upstream buffer and writes it out when flush
// is true (or the buffer is large).
func (sess *session) forward(m pgproto3.FrontendMessage, flush bool) error {
	var err error
	sess.upBuf, err = m.Encode(sess.upBuf)
	if err != nil {
		sess.terminate("08P01", "ward: cannot encode message: "+err.Error())
		return net.ErrClosed
	}
	if flush || len(sess.upBuf) >= upFlushAt {
		return sess.flushUp()
	}
	return nil
}

func (sess *session) flushUp() error {
	if len(sess.upBuf) == 0 {
		return nil
	}
	_, err := sess.up.conn.Write(sess.upBuf)
	if cap(sess.upBuf) > 1<<20 {
		sess.upBuf = nil
	} else {
		sess.upBuf = sess.upBuf[:0]
	}
	return err
}
