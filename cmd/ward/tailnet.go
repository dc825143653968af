package main

import (
	"context"

	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/tailnet"
)

// joinTailnet is the gateway's tailnet transport: tsnet, state in the
// gateway's state dir.
func joinTailnet(ctx context.Context, cfg gateway.TailnetConfig) (gateway.Transport, error) {
	return tailnet.Join(ctx, tailnet.Config{Settings: cfg.Settings, AuthKey: cfg.AuthKey, Dir: cfg.Dir, Logger: cfg.Logger})
}
