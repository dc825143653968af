package agentenv

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// caVars replace the agent's trust store with a bundle (system roots plus
// the gateway CA); NODE_EXTRA_CA_CERTS adds to Node's, so it gets the
// gateway CA alone.
var caVars = []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"}

// setCA writes the CA files and points the agent at them; it returns the
// path of the gateway CA alone. Only CERTIFICATE blocks are copied: a
// combined PEM (a certificate with its key) must not land in a file every
// agent reads.
func (e *Env) setCA(o Options) (string, error) {
	ca, other := certificates(o.CA)
	if len(ca) == 0 {
		return "", errors.New("the gateway CA holds no certificate (pass --ca FILE with the output of `ward ca`)")
	}
	e.noteDropped("the gateway CA", other)
	caPath, err := o.Files.Write("gateway-ca.pem", ca)
	if err != nil {
		return "", fmt.Errorf("write the gateway CA: %w", err)
	}
	roots, other := certificates(o.SystemRoots)
	e.noteDropped("the system CA roots", other)
	if len(roots) == 0 {
		e.Notes = append(e.Notes, "no system CA roots found: the agent trusts only the gateway CA (hosts passed through unparsed will fail TLS)")
	}
	bundlePath, err := o.Files.Write("ca-bundle.pem", append(roots, ca...))
	if err != nil {
		return "", fmt.Errorf("write the CA bundle: %w", err)
	}
	for _, name := range caVars {
		e.set(name, bundlePath, false)
	}
	e.set("NODE_EXTRA_CA_CERTS", caPath, false)
	return caPath, nil
}

// certificates returns the CERTIFICATE blocks of data, re-encoded, and
// the types of the other blocks it skipped.
func certificates(data []byte) (certs []byte, other []string) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs, other
		}
		if b.Type == "CERTIFICATE" {
			certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes})...)
		} else {
			other = append(other, b.Type)
		}
	}
}

func (e *Env) noteDropped(what string, types []string) {
	if len(types) > 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("%s also held %s (a private key or other non-certificate data): only its certificates were copied for the agent", what, strings.Join(types, ", ")))
	}
}

// systemRootFiles are where distributions keep the system roots as PEM.
var systemRootFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Alpine
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // RHEL 7+
	"/etc/ssl/cert.pem",                                 // macOS, BSDs
}

// SystemRoots reads the roots the agent would trust without ward: the file
// the parent's SSL_CERT_FILE names, else the distribution's bundle. It
// returns the PEM and where it came from; nothing found is not an error.
func SystemRoots(environ []string) ([]byte, string) {
	candidates := systemRootFiles
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "SSL_CERT_FILE="); ok && v != "" {
			candidates = append([]string{v}, candidates...)
		}
	}
	for _, f := range candidates {
		data, err := os.ReadFile(f)
		if err == nil && bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
			return data, f
		}
	}
	return nil, ""
}
