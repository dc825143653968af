package postgres

import (
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// agentFlushAt is how much the relay buffers for the agent while more of
// the upstream's answer is already at hand.
const agentFlushAt = 32 << 10

// relay copies the upstream's messages to the agent, message by message
// (results are never buffered whole), swapping denial markers' errors for
// denials and watching the session's settings.
func (sess *session) relay() {
	fe := sess.up.fe
	fatal := false
	for {
		msg, err := fe.Receive()
		answered := int64(0)
		if err != nil {
			if !fatal && !errors.Is(err, net.ErrClosed) && sess.ctx.Err() == nil {
				sess.terminate("08006", "ward: the connection to the database closed: "+describeReadError(err))
			}
			return
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			if d := sess.denial(m); d != nil {
				msg = d
			} else {
				sess.failed(m)
			}
			fatal = m.Severity == "FATAL" || m.Severity == "PANIC"
		case *pgproto3.ReadyForQuery:
			sess.status.Store(uint32(m.TxStatus))
			answered = sess.rfqs.Add(1)
		case *pgproto3.ParameterStatus:
			if reason := unsafeParameter(m); reason != "" {
				sess.terminate("08P01", "ward: "+reason)
				return
			}
		case *pgproto3.BackendKeyData:
			continue
		case *pgproto3.AuthenticationOk, *pgproto3.AuthenticationCleartextPassword, *pgproto3.AuthenticationMD5Password,
			*pgproto3.AuthenticationSASL, *pgproto3.AuthenticationSASLContinue, *pgproto3.AuthenticationSASLFinal,
			*pgproto3.AuthenticationGSS, *pgproto3.AuthenticationGSSContinue:
			sess.terminate("08P01", "ward: the database sent an unexpected authentication request")
			return
		}
		if err := sess.toAgent(msg, fe.ReadBufferLen() == 0); err != nil {
			return
		}
		if answered > 0 {
			sess.answered(answered)
		}
	}
}

// toAgent encodes msg for the agent, writing out when flush is true or
// enough is buffered.
func (sess *session) toAgent(msg pgproto3.BackendMessage, flush bool) error {
	w := &sess.aw
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return net.ErrClosed
	}
	var err error
	w.buf, err = msg.Encode(w.buf)
	if err != nil {
		return err
	}
	if !flush && len(w.buf) < agentFlushAt {
		return nil
	}
	_, err = w.conn.Write(w.buf)
	if cap(w.buf) > 1<<20 {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return err
}

// unsafeParameter reports a server setting under which the server would
// read statements differently from ward.
func unsafeParameter(m *pgproto3.ParameterStatus) string {
	switch m.Name {
	case "client_encoding":
		if !strings.EqualFold(m.Value, "UTF8") {
			return "client_encoding changed to " + m.Value + "; ward reads statements as UTF-8 only, so the session is closed"
		}
	case "standard_conforming_strings":
		if !strings.EqualFold(m.Value, "on") {
			return "standard_conforming_strings was turned off; ward reads statements with it on, so the session is closed"
		}
	}
	return ""
}

func describeReadError(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the server closed the connection"
	}
	return err.Error()
}
