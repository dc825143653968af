package ca

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	c1, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"": 0o700, KeyFile: 0o600, CertFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%q mode = %o, want %o", name, got, want)
		}
	}
	c2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(c1.CertPEM()) != string(c2.CertPEM()) {
		t.Fatal("second load created a new CA")
	}
	if !c1.Certificate().IsCA {
		t.Fatal("CA certificate is not a CA")
	}
}

func TestLoadCorrupt(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil {
		t.Fatal("corrupt key loaded")
	}
}

func TestLeaf(t *testing.T) {
	c, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(c.Certificate())
	tests := []struct {
		name, host, verifyAs string
	}{
		{"dns", "api.example.com", "api.example.com"},
		{"dns with dot and case", "API.Example.com.", "api.example.com"},
		{"ipv4", "127.0.0.1", "127.0.0.1"},
		{"ipv6", "::1", "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := c.Leaf(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: tt.verifyAs, Roots: roots}); err != nil {
				t.Fatalf("verify: %v", err)
			}
			again, _ := c.Leaf(tt.host)
			if again != leaf {
				t.Fatal("leaf not cached")
			}
		})
	}
	if _, err := c.Leaf(""); err == nil {
		t.Fatal("empty host minted")
	}
}

func TestLeafRenewedBeforeExpiry(t *testing.T) {
	c, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first, _ := c.Leaf("a.example")
	c.now = func() time.Time { return time.Now().Add(leafValidity - leafRenewal/2) }
	second, _ := c.Leaf("a.example")
	if first == second {
		t.Fatal("leaf near expiry was served from cache")
	}
}

// TestLoadRefusesAnExposedOrHalfWrittenCA: a CA key others can read is
// refused (anyone who reads it can impersonate every host to the agents),
// and a key without its certificate (a first start cut short) gets advice
// rather than "file exists".
func TestLoadRefusesAnExposedOrHalfWrittenCA(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, KeyFile)
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable CA key: err = %v, want advice to chmod 600", err)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, CertFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil || !strings.Contains(err.Error(), "without "+CertFile) {
		t.Errorf("key without certificate: err = %v", err)
	}
}
