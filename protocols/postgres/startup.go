package postgres

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/starlark/policy"
)

// errCancelled ends a connection that only carried a CancelRequest.
var errCancelled = errors.New("cancel request handled")

// startup is an agent connection after its startup message.
type startup struct {
	conn    net.Conn // TLS when the agent negotiated it
	reader  *agentReader
	be      *pgproto3.Backend
	version uint32
	params  map[string]string
}

// maxStartupPacket is the server's MAX_STARTUP_PACKET_LENGTH.
const maxStartupPacket = 10_000

// readStartup reads packets until the startup message, answering
// SSLRequest and GSSEncRequest and serving a CancelRequest. Packets are
// read exactly, so nothing sent in plaintext before a TLS handshake is
// ever read as if it came over TLS.
func (s *Server) readStartup(conn net.Conn, ep *policy.Endpoint) (*startup, error) {
	tlsDone := false
	for {
		msg, err := readStartupPacket(conn)
		if err != nil {
			return nil, err
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if tlsDone {
				return nil, errors.New("SSLRequest after TLS was negotiated")
			}
			if s.CA == nil || !ep.Postgres.AgentTLS {
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return nil, err
				}
				continue
			}
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return nil, err
			}
			tc := tls.Server(conn, s.agentTLSConfig(conn))
			if err := tc.Handshake(); err != nil {
				return nil, fmt.Errorf("agent TLS handshake: %w", err)
			}
			conn, tlsDone = tc, true
		case *pgproto3.GSSEncRequest:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return nil, err
			}
		case *pgproto3.CancelRequest:
			s.cancel(m)
			return nil, errCancelled
		case *pgproto3.StartupMessage:
			params := make(map[string]string, len(m.Parameters))
			for k, v := range m.Parameters {
				params[k] = v
			}
			r := &agentReader{conn: conn}
			return &startup{conn: conn, reader: r, be: pgproto3.NewBackend(r, conn), version: m.ProtocolVersion, params: params}, nil
		default:
			return nil, fmt.Errorf("unexpected startup packet %T", msg)
		}
	}
}

// readStartupPacket reads one length-prefixed startup packet.
func readStartupPacket(r io.Reader) (pgproto3.FrontendMessage, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read startup packet: %w", err)
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:])))
	if n < 8 || n > maxStartupPacket {
		return nil, fmt.Errorf("invalid startup packet length %d", n)
	}
	pkt := make([]byte, n)
	copy(pkt, hdr[:])
	if _, err := io.ReadFull(r, pkt[4:]); err != nil {
		return nil, fmt.Errorf("read startup packet: %w", err)
	}
	return pgproto3.NewBackend(bytes.NewReader(pkt), io.Discard).ReceiveStartupMessage()
}

// agentTLSConfig serves a certificate for the name the agent asked for
// (SNI), or for the address it connected to.
func (s *Server) agentTLSConfig(conn net.Conn) *tls.Config {
	local := ""
	if a, ok := conn.LocalAddr().(*net.TCPAddr); ok {
		local = a.IP.String()
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			host := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
			if host == "" {
				host = local
			}
			return s.CA.Leaf(host)
		},
	}
}

// startupParams are the startup parameters agents may send; the gateway
// sets client_encoding and standard_conforming_strings itself.
var startupParams = map[string]bool{
	"user": true, "database": true, "application_name": true, "fallback_application_name": true,
	"client_encoding": true, "DateStyle": true, "TimeZone": true, "extra_float_digits": true,
	"IntervalStyle": true, "standard_conforming_strings": true,
}

// checkParams refuses startup parameters that would change the session
// behind the policy's back (options=-c role=…, replication, search_path)
// or make the server read statements differently from ward.
func checkParams(params map[string]string) error {
	for k, v := range params {
		switch {
		case k == "replication":
			return errors.New("replication connections are not supported through ward")
		case !startupParams[k] && v != "":
			return fmt.Errorf("startup parameter %q is not accepted through ward; set it with SET after connecting, where the policy sees it", k)
		case k == "client_encoding" && !clientEncodingOK(v):
			return fmt.Errorf("client_encoding %q: ward speaks UTF8 only; set PGCLIENTENCODING=UTF8", v)
		case k == "standard_conforming_strings" && !strings.EqualFold(v, "on"):
			return errors.New("standard_conforming_strings must be on through ward")
		}
	}
	return nil
}

func clientEncodingOK(v string) bool {
	switch strings.ToUpper(strings.NewReplacer("-", "", "_", "").Replace(v)) {
	case "UTF8", "UNICODE", "SQLASCII", "AUTO", "":
		return true
	}
	return false
}

// identify authenticates the agent with s.Identify.
func (s *Server) identify(ctx context.Context, st *startup) (action.Agent, error) {
	identify := s.Identify
	if identify == nil {
		identify = LocalIdentity
	}
	info := ConnInfo{Conn: st.conn, RemoteAddr: st.conn.RemoteAddr(), User: st.params["user"], Database: st.params["database"],
		Params: st.params, Password: func() (string, error) { return askPassword(st) }}
	return identify(ctx, info)
}

// askPassword asks the agent for a cleartext password.
func askPassword(st *startup) (string, error) {
	buf, err := (&pgproto3.AuthenticationCleartextPassword{}).Encode(nil)
	if err != nil {
		return "", err
	}
	if _, err := st.conn.Write(buf); err != nil {
		return "", err
	}
	if err := st.be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return "", err
	}
	msg, err := st.be.Receive()
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return "", fmt.Errorf("expected a password message, got %T", msg)
	}
	return pw.Password, nil
}
