package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand of ward.
type command struct {
	name    string
	usage   string // arguments after the name
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"gateway", "[--config ward.star] [--state-dir DIR] [--bind ADDR] [--proxy-port N] [--dashboard-port N] [--tailnet]", "serve the policy", runGateway},
		{"test", "[--config ward.star] [-v] [PATH...]", "run *_test.star files and *.fixture.json fixtures", runTest},
		{"check", "[--config ward.star]", "load and validate a policy; list its endpoints and hooks", runCheck},
		{"ca", "[--state-dir DIR]", "print the gateway CA certificate (PEM)", runCA},
		{"log", logUsage, "read the audit log", runLog},
		{"fixture", "[--state-dir DIR] ACTION_ID", "export an audited action as a test fixture", runFixture},
		{"approvals", approvalsUsage, "list approvals waiting for a decision", runApprovals},
		{"approve", decideUsage, "approve a pending approval", runApprove},
		{"deny", decideUsage, "deny a pending approval", runDeny},
		{"run", runUsage, "run one agent with its environment pointed at the gateway", runRun},
		{"kubeconfig", kubeconfigUsage, "write an agent's kubeconfig for a kubernetes endpoint (no credential in it)", runKubeconfig},
	}
}

// run is ward's main, minus the process: tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr) // a command is required: usage is the error
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "ward: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "ward — a firewall for AI agents")
	fmt.Fprintln(w, "\nUsage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  ward %s %s\n      %s\n", c.name, c.usage, c.summary)
	}
	fmt.Fprintln(w, "\nRun `ward COMMAND --help` for a command's flags. Docs: docs/policy.md")
}

// newFlags returns a flag set that prints errors and usage to stderr.
func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ward "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ward %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; it returns the exit code to use when parsing ends
// the command (help or a bad flag), or -1 to go on.
func parse(fs *flag.FlagSet, args []string) int {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return -1
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	return 2
}

// missingPolicy explains a policy file that is not there: without
// --config, ward reads ward.star in the current directory.
func missingPolicy(config string) error {
	if exists(config) {
		return nil
	}
	return fmt.Errorf("no policy file %s (name the policy with --config FILE)", config)
}

// fail prints an error for the user and returns exit code 1.
func fail(stderr io.Writer, cmd string, err error) int {
	msg := err.Error()
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprintf(stderr, "ward %s: %s", cmd, msg)
	return 1
}

// parseNoArgs is parse for commands that take no arguments besides flags:
// a stray argument (ward check ward.star, for --config ward.star) is a
// usage error rather than silently ignored.
func parseNoArgs(fs *flag.FlagSet, args []string) int {
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	return -1
}

// parseInterspersed is parse for commands whose arguments are not
// commands: flags may follow them (ward test ./policies -v, ward deny ID
// --reason "…", ward kubeconfig prod -o FILE), until a "--", after which
// everything is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) (paths []string, code int) {
	for {
		if code := parse(fs, args); code >= 0 {
			return nil, code
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return paths, -1
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(paths, rest...), -1
		}
		paths, args = append(paths, rest[0]), rest[1:]
	}
}
