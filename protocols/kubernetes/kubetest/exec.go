package kubetest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// websocketGUID is RFC 6455's key suffix.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Channels of the Kubernetes streaming protocol (v4/v5.channel.k8s.io).
const (
	channelStdout = 1
	channelError  = 3
)

// exec answers an exec upgrade. Over WebSocket it speaks the channel
// protocol: "echo ARGS" prints ARGS, anything else prints what it would
// have run; then it reports success and closes. Over SPDY it does not
// speak SPDY: after the 101 it echoes whatever bytes arrive, which is
// enough to prove that ward passes an upgraded stream through.
func (s *APIServer) exec(w http.ResponseWriter, r *http.Request) {
	switch up := strings.ToLower(r.Header.Get("Upgrade")); {
	case up == "websocket":
		s.execWebSocket(w, r)
	case strings.HasPrefix(up, "spdy/"):
		conn, brw := upgrade(w, http.Header{"Upgrade": {r.Header.Get("Upgrade")}, "Connection": {"Upgrade"},
			"X-Stream-Protocol-Version": {"v4.channel.k8s.io"}})
		if conn == nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		for {
			n, err := brw.Read(buf)
			if n > 0 {
				if _, werr := conn.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	default:
		WriteStatus(w, http.StatusBadRequest, "BadRequest", "Upgrade request required")
	}
}

func (s *APIServer) execWebSocket(w http.ResponseWriter, r *http.Request) {
	proto := ""
	for _, p := range strings.Split(strings.Join(r.Header["Sec-Websocket-Protocol"], ","), ",") {
		p = strings.TrimSpace(p)
		if p == "v5.channel.k8s.io" || (p == "v4.channel.k8s.io" && proto == "") {
			proto = p
		}
	}
	if proto == "" {
		WriteStatus(w, http.StatusBadRequest, "BadRequest", "no supported streaming subprotocol")
		return
	}
	sum := sha1.Sum([]byte(r.Header.Get("Sec-Websocket-Key") + websocketGUID))
	conn, brw := upgrade(w, http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"},
		"Sec-Websocket-Accept": {base64.StdEncoding.EncodeToString(sum[:])}, "Sec-Websocket-Protocol": {proto}})
	if conn == nil {
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.Copy(io.Discard, brw) }() // the client's frames (stdin, close)
	cmd := r.URL.Query()["command"]
	out := "kubetest: would run " + strings.Join(cmd, " ") + "\n"
	if len(cmd) > 0 && cmd[0] == "echo" {
		out = strings.Join(cmd[1:], " ") + "\n"
	}
	writeFrame(conn, 0x2, append([]byte{channelStdout}, out...))
	writeFrame(conn, 0x2, append([]byte{channelError}, `{"metadata":{},"status":"Success"}`...))
	writeFrame(conn, 0x8, []byte{0x03, 0xe8})
	time.Sleep(100 * time.Millisecond)
}

// upgrade answers 101 with h and takes over the connection.
func upgrade(w http.ResponseWriter, h http.Header) (net.Conn, *bufio.ReadWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		WriteStatus(w, http.StatusBadRequest, "BadRequest", "upgrades need HTTP/1.1")
		return nil, nil
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		conn.Close()
		return nil, nil
	}
	return conn, brw
}

// writeFrame writes one unmasked WebSocket frame.
func writeFrame(w io.Writer, opcode byte, payload []byte) {
	hdr := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, byte(n))
	case n < 1<<16:
		hdr = append(hdr, 126, 0, 0)
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
	default:
		hdr = append(hdr, 127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
	}
	_, _ = w.Write(append(hdr, payload...))
}
