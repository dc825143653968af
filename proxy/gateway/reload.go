package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardproject/ward/starlark/policy"
	"github.com/wardproject/ward/starlark/policytest"
)

// ErrRejected wraps the reason a reload was refused; the old policy keeps
// serving.
var ErrRejected = errors.New("reload rejected")

// Reload loads the policy again, runs its tests (the *_test.star files and
// fixtures under the policy's directory), resolves its secrets, and only
// if all of that succeeds serves it. Otherwise the old policy keeps serving
// and the error says why.
func (g *Gateway) Reload(ctx context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	err := g.reload(ctx)
	g.status = ReloadStatus{At: time.Now(), Hash: g.engine.Snapshot().Policy.Hash}
	if err != nil {
		g.status.Error = err.Error()
		g.logger.Error("policy reload rejected; the previous policy keeps serving", "error", err)
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return nil
}

func (g *Gateway) reload(ctx context.Context) error {
	old := g.engine.Snapshot()
	p, err := g.load()
	if err != nil {
		return err
	}
	if err := restartOnly(old.Policy.Gateway, p.Gateway); err != nil {
		return err
	}
	if !sameTailnet(old.Policy.Tailnet, p.Tailnet) {
		return errors.New("tailnet() changed: restart the gateway to apply")
	}
	if err := g.runTests(ctx, p); err != nil {
		return err
	}
	snap, vs, err := g.snapshot(ctx, p)
	if err != nil {
		return err
	}
	added, removed, err := g.plan(p)
	if err != nil {
		g.dropVault(vs)
		return err
	}
	g.engine.Publish(snap)
	g.useVault(ctx, vs, p)
	g.refreshRedaction()
	// Requests in flight on a removed endpoint get a grace period, not
	// the caller's context: a watch or a long query must not hold the
	// reload lock (and every later reload and the shutdown) indefinitely.
	drain, cancel := context.WithTimeout(context.Background(), g.opts.DrainTimeout)
	err = g.commit(drain, added, removed)
	cancel()
	if err != nil {
		g.logger.Warn("endpoint listeners stopped with requests still in flight; their connections were closed", "error", err)
	}
	old.Close()
	g.writeListeners(p.Gateway)
	g.logger.Info("policy reloaded", "hash", short(p.Hash), "endpoints", len(p.Endpoints), "mode", p.Gateway.Mode)
	return nil
}

// restartOnly refuses a reload that changes settings only a restart can
// apply, rather than silently ignoring them.
func restartOnly(old, new policy.Gateway) error {
	switch {
	case old.Bind != new.Bind, old.ProxyPort != new.ProxyPort:
		return errors.New("bind or proxy_port changed: restart the gateway to apply")
	case old.DashboardPort != new.DashboardPort:
		return errors.New("dashboard_port changed: restart the gateway to apply")
	case old.CallbackPort != new.CallbackPort, old.CallbackURL != new.CallbackURL:
		return errors.New("callback_port or callback_url changed: restart the gateway to apply")
	case old.StateDir != new.StateDir, old.Audit != new.Audit, old.AuditSync != new.AuditSync:
		return errors.New("state_dir, audit or audit_sync changed: restart the gateway to apply")
	}
	return nil
}

// runTests runs the policy's own tests; a policy without tests passes.
func (g *Gateway) runTests(ctx context.Context, p *policy.Policy) error {
	files, err := policytest.Discover([]string{p.Dir()})
	if err != nil || len(files) == 0 {
		return nil
	}
	var out limitedBuffer
	r := &policytest.Runner{Protocols: Protocols(), Config: p.Path, Out: &out}
	sum, err := r.Run(ctx, files)
	if err != nil {
		return fmt.Errorf("policy tests: %w", err)
	}
	if !sum.OK() {
		return fmt.Errorf("policy tests failed:\n%s", out.String())
	}
	return nil
}

// watch reloads when the contents of a policy file change. It compares
// content hashes, so a change made right after the policy was loaded is
// not missed, and a rejected version is not retried until it changes again.
func (g *Gateway) watch(p *policy.Policy) {
	defer g.wg.Done()
	interval := g.opts.WatchInterval
	if interval == 0 {
		interval = time.Second
	}
	files, seen := p.Files, p.Hash
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		now, err := policy.HashFiles(files)
		if err != nil {
			now = "unreadable: " + err.Error()
		}
		if now == seen {
			continue
		}
		seen = now
		if err := g.Reload(context.Background()); err == nil {
			cur := g.engine.Snapshot().Policy
			files, seen = cur.Files, cur.Hash
		}
	}
}

// limitedBuffer keeps the first 64 KiB of test output for the log.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
