package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policytest"
)

func runFixture(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("fixture", "[--state-dir DIR] ACTION_ID", stderr)
	stateDir := fs.String("state-dir", ".ward", "the gateway's state dir")
	args, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(args) != 1 {
		fs.Usage()
		return 2
	}
	store, err := audit.OpenSQLiteReadOnly(filepath.Join(*stateDir, "audit.db"))
	if err != nil {
		return fail(stderr, "fixture", err)
	}
	defer store.Close()
	rec, err := store.Get(ctx, args[0])
	if errors.Is(err, audit.ErrNotFound) {
		return fail(stderr, "fixture", fmt.Errorf("no action %s in %s (see `ward log`)", args[0], *stateDir))
	}
	if err != nil {
		return fail(stderr, "fixture", err)
	}
	f, err := policytest.FromRecord(rec)
	if err != nil {
		return fail(stderr, "fixture", err)
	}
	data, err := f.Marshal()
	if err != nil {
		return fail(stderr, "fixture", err)
	}
	_, _ = stdout.Write(data)
	return 0
}
