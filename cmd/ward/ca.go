package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wardproject/ward/proxy/ca"
)

func runCA(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("ca", "[--state-dir DIR]", stderr)
	stateDir := fs.String("state-dir", ".ward", "the gateway's state dir; the CA is created there if missing")
	if code := parseNoArgs(fs, args); code >= 0 {
		return code
	}
	created := !exists(filepath.Join(*stateDir, ca.CertFile))
	authority, err := ca.LoadOrCreate(*stateDir)
	if err != nil {
		return fail(stderr, "ca", err)
	}
	if created {
		// Say so: after a mistyped --state-dir, this CA is one no gateway uses.
		fmt.Fprintf(stderr, "ward ca: created a new CA in %s (a gateway started with --state-dir %s uses it)\n", *stateDir, *stateDir)
	}
	_, _ = stdout.Write(authority.CertPEM())
	return 0
}

// exists reports whether path exists; an error other than "not there"
// counts as existing, so that the caller's own open reports it.
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
