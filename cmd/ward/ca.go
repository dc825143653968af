package main

import (
	"context"
	"io"

	"github.com/wardproject/ward/proxy/ca"
)

func runCA(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("ca", "[--state-dir DIR]", stderr)
	stateDir := fs.String("state-dir", ".ward", "the gateway's state dir; the CA is created there if missing")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	authority, err := ca.LoadOrCreate(*stateDir)
	if err != nil {
		return fail(stderr, "ca", err)
	}
	_, _ = stdout.Write(authority.CertPEM())
	return 0
}
