// Command ward is a firewall for AI agents: a gateway that parses every
// action an agent takes against production services, asks the operator's
// Starlark policy about it, and injects credentials only into what passes.
//
// Run `ward help` for the subcommands.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
