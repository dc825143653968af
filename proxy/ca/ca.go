// Package ca is the gateway's own certificate authority: it is created on
// first start in the state dir and mints the leaf certificates with which the
// gateway terminates TLS for the hosts it intercepts.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// File names inside the state dir.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 7 * 24 * time.Hour
	// leafRenewal is how long before expiry a cached leaf is replaced.
	leafRenewal = 24 * time.Hour
	// maxCachedLeaves bounds the leaf cache; the gateway only mints for
	// hosts the policy declares, so this is generous.
	maxCachedLeaves = 4096
)

// CA holds the gateway CA's certificate and key and a cache of minted leaves.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	now     func() time.Time // allow overriding time for tests

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

// LoadOrCreate loads the CA from dir, creating dir (mode 0700) and a new CA
// (key file mode 0600) when none exists yet.
func LoadOrCreate(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	c, err := load(certPath, keyPath)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return c, err
	}
	if _, kerr := os.Stat(keyPath); kerr == nil {
		return nil, fmt.Errorf("%s holds %s without %s (a first start cut short?): remove %s to create a new CA", dir, KeyFile, CertFile, keyPath)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	if err := create(certPath, keyPath); err != nil {
		return nil, err
	}
	return load(certPath, keyPath)
}

func load(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	if fi, err := os.Stat(keyPath); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		// Whoever reads the key can impersonate any host to the agents.
		return nil, fmt.Errorf("CA key %s is readable by others (mode %o): chmod 600 %s", keyPath, fi.Mode().Perm(), keyPath)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", filepath.Dir(certPath), err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("load CA: key in %s cannot sign", keyPath)
	}
	return &CA{cert: pair.Leaf, certPEM: certPEM, key: signer, now: time.Now,
		leaves: make(map[string]*tls.Certificate)}, nil
}

func create(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"ward"}, CommonName: "ward gateway CA " + now.UTC().Format("2006-01-02")},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode CA key: %w", err)
	}
	// Write the key first and exclusively: a concurrent start loses cleanly.
	if err := writeExclusive(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("write CA key: %w", err)
	}
	if err := writeExclusive(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	return nil
}

func writeExclusive(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

// CertPEM returns the CA certificate in PEM form, for agents to trust.
func (c *CA) CertPEM() []byte { return c.certPEM }

// Certificate returns the parsed CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }
