package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/wardproject/ward/proxy/gateway"
)

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("gateway", "[flags]", stderr)
	config := fs.String("config", "ward.star", "the policy file")
	stateDir := fs.String("state-dir", "", "where the CA, audit log and journal live (default: the policy's gateway(state_dir), .ward)")
	bind := fs.String("bind", "", "address the listeners bind (default: the policy's gateway(bind), 127.0.0.1)")
	proxyPort := fs.Int("proxy-port", -1, "the HTTP proxy port (default: the policy's gateway(proxy_port), 8080; 0 picks a free port)")
	dashboardPort := fs.Int("dashboard-port", -1, "serve the dashboard on this port (default: the policy's gateway(dashboard_port), none; 0 picks a free port)")
	logFormat := fs.String("log-format", "text", "gateway log format: text or json")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	tailnetFlag := fs.Bool("tailnet", false, "join the tailnet even if the policy declares no tailnet() (hostname \"ward\"; auth key from TS_AUTHKEY or a login URL in the log)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the gateway to this file (for bench/)")
	if code := parseNoArgs(fs, args); code >= 0 {
		return code
	}
	if err := missingPolicy(*config); err != nil {
		return fail(stderr, "gateway", err)
	}
	handler, err := logHandler(stderr, *logFormat, *logLevel)
	if err != nil {
		return fail(stderr, "gateway", err)
	}
	opts := gateway.Options{Config: *config, StateDir: *stateDir, Bind: *bind, LogHandler: handler,
		JoinTailnet: joinTailnet, Tailnet: *tailnetFlag}
	if *proxyPort >= 0 {
		opts.ProxyPort = proxyPort
	}
	if *dashboardPort >= 0 {
		opts.DashboardPort = dashboardPort
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(stderr, "gateway", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(stderr, "gateway", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, err := gateway.Start(ctx, opts)
	if err != nil {
		return fail(stderr, "gateway", err)
	}
	proxyAddr := g.ProxyDialAddr()
	fmt.Fprintf(stdout, "ward: proxy listening on %s (HTTPS_PROXY=http://%s)\n", proxyAddr, proxyAddr)
	if u := g.DashboardURL(); u != "" {
		fmt.Fprintf(stdout, "ward: dashboard at %s\n", u)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			_ = g.Reload(ctx) // logged; the old policy keeps serving on failure
			continue
		case <-ctx.Done():
		}
		break
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Close(shutdown); err != nil {
		return fail(stderr, "gateway", fmt.Errorf("shutdown: %w", err))
	}
	return 0
}

func logHandler(w io.Writer, format, level string) (slog.Handler, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
