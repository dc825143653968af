package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/judges/approval"
	"github.com/wardproject/ward/judges/llm"
	"github.com/wardproject/ward/judges/slack"
	"github.com/wardproject/ward/judges/webhook"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// judgeServices are the gateway-wide parts of the judges: the approval
// queue, the Slack hub (Socket Mode connections, click routing) and the
// webhook hub, and the callback server they share. They live as long as
// the gateway; each snapshot builds its judges on them.
type judgeServices struct {
	queue    *approval.Queue
	slack    *slack.Hub
	webhook  *webhook.Hub
	callback *http.Server
	cbLn     net.Listener
	// recovered are the approvals a previous run left pending, closed on
	// start; their Slack messages are updated once judges exist.
	recovered []audit.Approval
}

// startJudges opens the approval queue, closes what a previous run left
// pending, and serves the callback port when the policy has one.
func (g *Gateway) startJudges(ctx context.Context, gw policy.Gateway) error {
	js := &judgeServices{}
	js.queue = approval.New(g.store, approval.Options{Owner: g.journal.ID(), Logger: g.logger})
	closed, err := js.queue.Recover(ctx, "gateway restarted")
	if err != nil {
		return fmt.Errorf("close approvals left pending by the last run: %w", err)
	}
	if len(closed) > 0 {
		g.logger.Warn("approvals left pending by the last run were denied", "count", len(closed), "reason", "gateway restarted")
	}
	js.recovered = closed
	js.slack = slack.NewHub(js.queue, g.logger)
	js.webhook = webhook.NewHub(js.queue, g.logger)
	js.slack.APIURL, js.slack.HTTPClient = g.opts.SlackAPIURL, g.opts.JudgeHTTPClient
	js.webhook.HTTPClient = g.opts.JudgeHTTPClient
	g.judges = js
	if gw.CallbackPort == 0 {
		return nil
	}
	addr := net.JoinHostPort(gw.Bind, strconv.Itoa(gw.CallbackPort))
	ln, err := g.listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s for callbacks: %w", addr, err)
	}
	js.cbLn = ln
	base := gw.CallbackURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	js.webhook.CallbackBase = strings.TrimSuffix(base, "/")
	mux := http.NewServeMux()
	mux.Handle("/slack/interactivity", &slack.Interactivity{Hub: js.slack, Secrets: g.signingSecrets})
	mux.Handle(webhook.CallbackPath, js.webhook)
	js.callback = newCallbackServer(mux)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := js.callback.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logger.Error("callback server stopped", "error", err)
		}
	}()
	g.logger.Info("callbacks listening", "addr", ln.Addr().String(), "url", base)
	return nil
}

// newCallbackServer serves the callback port, which may face the
// internet (Slack's Request URL): requests are small and quick, so slow
// or idle clients are cut off.
func newCallbackServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
}

// CallbackAddr is the address of the callback port, or nil.
func (g *Gateway) CallbackAddr() net.Addr {
	if g.judges == nil || g.judges.cbLn == nil {
		return nil
	}
	return g.judges.cbLn.Addr()
}

// snapshotJudges builds the judges of snap's policy on the gateway's
// services, with snap's secrets.
func (g *Gateway) snapshotJudges(snap *proxy.Snapshot) error {
	p := snap.Policy
	if len(p.Judges) == 0 {
		return nil
	}
	js := g.judges
	mask := g.masker()
	a := &asker{judges: map[*builtins.Judge]judges.Judge{}}
	var signing []string
	var approvers []*slack.Approver
	for _, j := range p.Judges {
		jj, err := g.newJudge(snap, j, mask, &signing, &approvers)
		if err != nil {
			return err
		}
		a.judges[j] = jj
	}
	a.signing = signing
	snap.Judges = a
	if len(js.recovered) > 0 {
		closed := js.recovered
		js.recovered = nil
		go js.slack.Recovered(context.Background(), closed, approvers)
	}
	return nil
}

// newJudge builds the service behind one declared judge, with snap's
// secrets; Slack approvers and their signing secrets are also collected.
func (g *Gateway) newJudge(snap *proxy.Snapshot, j *builtins.Judge, mask judges.Masker, signing *[]string, approvers *[]*slack.Approver) (judges.Judge, error) {
	p := snap.Policy
	secret := func(s *builtins.Secret) (string, error) {
		v, err := judgeSecret(snap, j, s)
		return string(v), err
	}
	var err error
	switch j.Kind {
	case "llm":
		s := j.LLM
		cfg := llm.Config{Model: s.Model, BaseURL: s.BaseURL, Prompt: s.Prompt, CacheTTL: s.CacheTTL,
			HTTPClient: g.opts.JudgeHTTPClient, Mask: mask}
		if s.APIKey != nil {
			if cfg.APIKey, err = secret(s.APIKey); err != nil {
				return nil, err
			}
		}
		return llm.New(cfg), nil
	case "slack":
		s := j.Slack
		if s.AppToken == nil && p.Gateway.CallbackPort == 0 {
			return nil, fmt.Errorf("%s (%s) takes clicks over HTTP interactivity (signing_secret, no app_token): set gateway(callback_port = N) and point the Slack app's Request URL at it", j.Name, j.Pos)
		}
		cfg := slack.Config{Name: j.Name, Channel: s.Channel, Approvers: s.Approvers, Mask: mask}
		if cfg.BotToken, err = secret(s.BotToken); err != nil {
			return nil, err
		}
		if s.AppToken != nil {
			if cfg.AppToken, err = secret(s.AppToken); err != nil {
				return nil, err
			}
		}
		if s.SigningSecret != nil {
			if cfg.SigningSecret, err = secret(s.SigningSecret); err != nil {
				return nil, err
			}
			*signing = append(*signing, cfg.SigningSecret)
		}
		ap := g.judges.slack.NewApprover(cfg)
		*approvers = append(*approvers, ap)
		return ap, nil
	case "webhook":
		key, err := judgeSecret(snap, j, j.Webhook.Secret)
		if err != nil {
			return nil, err
		}
		return g.judges.webhook.NewApprover(webhook.Config{Name: j.Name, URL: j.Webhook.URL, Secret: key, Mask: mask}), nil
	case "dashboard":
		return g.dashboardJudge(p, j.Name, j.Pos)
	}
	return nil, fmt.Errorf("%s: unknown judge kind %q", j.Name, j.Kind)
}

// judgeSecret is the value of one of j's secrets; an unavailable one (a
// Vault lease that ended) is an error: an empty key signs nothing.
func judgeSecret(snap *proxy.Snapshot, j *builtins.Judge, s *builtins.Secret) ([]byte, error) {
	v := snap.Secret(s)
	if len(v) == 0 {
		return nil, fmt.Errorf("%s (%s): secret %s is unavailable (its Vault lease ended)", j.Name, j.Pos, s)
	}
	return v, nil
}

// masker scrubs every secret the gateway holds from text judges send out.
func (g *Gateway) masker() judges.Masker {
	return func(s string) string { return g.redact.Redact(s) }
}

// stopJudges denies what is still waiting and stops the services.
func (g *Gateway) stopJudges(ctx context.Context) error {
	js := g.judges
	if js == nil {
		return nil
	}
	js.queue.Shutdown("gateway shutting down")
	var err error
	if js.callback != nil {
		err = js.callback.Shutdown(ctx)
	}
	return errors.Join(err, js.slack.Close())
}

// signingSecrets are the Slack signing secrets of the policy being served.
func (g *Gateway) signingSecrets() []string {
	if g.engine == nil {
		return nil
	}
	if a, ok := g.engine.Snapshot().Judges.(*asker); ok {
		return a.signing
	}
	return nil
}

// asker answers hooks' questions with the snapshot's judges.
type asker struct {
	judges  map[*builtins.Judge]judges.Judge
	signing []string // Slack signing secrets
}

// Ask asks the running judge; it never fails (failures are denials).
func (a *asker) Ask(ctx context.Context, j *builtins.Judge, q builtins.Question) (builtins.Answer, error) {
	jj, ok := a.judges[j]
	if !ok {
		return builtins.Answer{Verdict: judges.Deny("error", j.Name+" is not running", nil).Verdict}, nil
	}
	out := jj.Decide(ctx, judges.Request{Action: q.Action, Note: q.Note, Timeout: q.Timeout, TimeoutReason: q.TimeoutReason})
	return builtins.Answer{Verdict: out.Verdict, Details: out.Details}, nil
}
