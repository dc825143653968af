package kubernetes_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// client is an HTTPS client trusting the gateway CA.
func (h *harness) client(nextProtos ...string) *http.Client {
	h.t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(h.dir, "state", "ca.pem"))
	if err != nil {
		h.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: nextProtos}, ForceAttemptHTTP2: true}}
}

func (h *harness) tlsConfig() *tls.Config {
	caPEM, _ := os.ReadFile(filepath.Join(h.dir, "state", "ca.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}
}

func TestWatchStreamsThrough(t *testing.T) {
	h := start(t, e2ePolicy)
	start := time.Now()
	resp, err := h.client().Get(h.server + "/api/v1/namespaces/default/pods?watch=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	// The fake keeps the watch open for two seconds after its event: the
	// event must arrive before that, not when the stream ends.
	if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
		t.Errorf("the first watch event took %v: the watch is buffered, not streamed", elapsed)
	}
	if !strings.Contains(line, `"type":"ADDED"`) || !strings.Contains(line, "web-0") {
		t.Errorf("first event = %q", line)
	}
}

func TestSPDYUpgradePassesThroughAfterAllow(t *testing.T) {
	h := start(t, e2ePolicy)
	conn, err := tls.Dial("tcp", strings.TrimPrefix(h.server, "https://"), h.tlsConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(conn, "POST /api/v1/namespaces/default/pods/web-0/exec?command=echo&command=hello&stdout=true HTTP/1.1\r\n"+
		"Host: ward\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	// The fake echoes the upgraded stream: bytes must flow both ways.
	if _, err := io.WriteString(conn, "spdy-frames-would-go-here"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("spdy-frames-would-go-here"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "spdy-frames-would-go-here" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
	for _, r := range h.api.Received() {
		if strings.Contains(r.Target, "/exec") && r.Header.Get("Authorization") != "Bearer "+canary {
			t.Errorf("the upgrade reached the API server without the injected token")
		}
	}
}

const clientCertPolicy = `
kubernetes(
    name = "prod",
    server = "https://SERVER",
    ca = secrets.file("CA_FILE"),
    credential = client_cert(secrets.file("CERT_FILE"), secrets.file("KEY_FILE")),
    port = 0,
    on_request = lambda req: allow() if req.verb in ("get", "list") else deny("read-only"),
)
`

func TestClientCertificateCredential(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeClientCert(t, dir, "ward-gateway")
	policy := strings.ReplaceAll(clientCertPolicy, "CERT_FILE", certFile)
	policy = strings.ReplaceAll(policy, "KEY_FILE", keyFile)
	h := start(t, policy)
	req, _ := http.NewRequest("GET", h.server+"/api/v1/namespaces/default/pods", nil)
	req.Header.Set("Authorization", "Bearer agent-own-token")
	resp, err := h.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := h.api.Received()
	if len(got) != 1 || got[0].ClientCert != "ward-gateway" || got[0].Header.Get("Authorization") != "" {
		t.Fatalf("the API server saw %+v; want the client certificate and no Authorization", got)
	}
}

func writeClientCert(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
