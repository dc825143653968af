package main

import (
	"context"
	"io"

	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/starlark/policytest"
)

func runTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("test", "[flags] [PATH...]", stderr)
	config := fs.String("config", "", "the policy fixtures are checked against (default: the nearest ward.star at or above each fixture)")
	verbose := fs.Bool("v", false, "list passing tests and their t.log output")
	paths, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	r := &policytest.Runner{Protocols: gateway.Protocols(), Config: *config, Verbose: *verbose, Out: stdout}
	sum, err := r.Run(ctx, paths)
	if err != nil {
		return fail(stderr, "test", err)
	}
	if !sum.OK() {
		return 1
	}
	return 0
}
