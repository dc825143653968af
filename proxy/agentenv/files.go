package agentenv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// CacheFiles keeps generated files (CA bundles, kubeconfigs) in the user's
// cache dir, named by their content: the agent reads them after ward run
// has turned into it, so they outlive ward run, and running again reuses
// them instead of piling up copies. Files are private to the user (0600).
type CacheFiles struct{ Dir string }

// NewCacheFiles uses $XDG_CACHE_HOME/ward/run (~/.cache/ward/run), or the
// temp dir when there is no cache dir.
func NewCacheFiles() (*CacheFiles, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "ward", "run")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := private(dir); err != nil {
		return nil, err
	}
	return &CacheFiles{Dir: dir}, nil
}

// private makes sure dir is a real directory of this user's that nobody
// else can read or write: it holds kubeconfigs with the agent's ward
// password and the CA bundles its clients trust (the temp-dir fallback is
// shared with other users, who could plant either).
func private(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || (ok && int(st.Uid) != os.Geteuid()) {
		return fmt.Errorf("%s is not a directory of its own (a symlink, or another user's): remove it or set XDG_CACHE_HOME", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("make %s private: %w", dir, err)
		}
	}
	return nil
}

// Write stores data under a name derived from its content and returns the
// path. An existing file with the same content is reused.
func (f *CacheFiles) Write(name string, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	path := filepath.Join(f.Dir, hex.EncodeToString(sum[:8])+"-"+name)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return path, nil
	}
	tmp, err := os.CreateTemp(f.Dir, name+".tmp*")
	if err != nil {
		return "", err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o600)); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return path, nil
}
