// Package gateway runs ward's gateway: it loads the policy, opens the
// state dir (CA, audit journal and store), resolves secrets, starts the
// listeners of every protocol, and reloads the policy when its files change
// or on request.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/clickhouse"
	"github.com/wardproject/ward/protocols/httpproxy"
	"github.com/wardproject/ward/protocols/kubernetes"
	"github.com/wardproject/ward/protocols/postgres"
	"github.com/wardproject/ward/protocols/postgres/sqlfacts"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/ca"
	"github.com/wardproject/ward/proxy/dashboard"
	"github.com/wardproject/ward/starlark/policy"
)

// Options configures a gateway. Zero values take the policy's settings.
type Options struct {
	Config    string // the policy file
	StateDir  string // overrides gateway(state_dir)
	Bind      string // overrides gateway(bind)
	ProxyPort *int   // overrides gateway(proxy_port); 0 picks a free port
	// LogHandler receives the gateway's log; it is wrapped so that secret
	// values never reach it. Default: text to stderr.
	LogHandler slog.Handler
	// Resolver reads secrets; the zero value reads the environment and files.
	Resolver builtins.Resolver
	// WatchInterval is how often policy files are checked for changes;
	// default one second, negative disables watching.
	WatchInterval time.Duration
	// DrainTimeout is how long a reload lets requests in flight on an
	// endpoint it removes (or moves to another port) finish before their
	// connections are closed; default 5s.
	DrainTimeout time.Duration
	// Listen opens the gateway's listeners; default net.Listen. The
	// tailnet transport replaces it.
	Listen func(network, addr string) (net.Listener, error)
	// SlackAPIURL overrides Slack's Web API base URL (tests point it at
	// slacktest); JudgeHTTPClient sends judges' requests (default plain
	// clients).
	SlackAPIURL     string
	JudgeHTTPClient *http.Client
	// JoinTailnet joins the tailnet when the policy declares tailnet() or
	// Tailnet is set; every listener then lives on the tailnet. The ward
	// binary sets it (package proxy/tailnet), so that this package does
	// not link tsnet; nil refuses a policy that declares a tailnet.
	JoinTailnet func(ctx context.Context, cfg TailnetConfig) (Transport, error)
	// Tailnet joins with the default tailnet settings when the policy
	// declares no tailnet() (`ward gateway --tailnet`).
	Tailnet bool
	// PostgresIdentify names the agent of a new Postgres connection;
	// default the gateway's identity seam: the tailnet peer, the declared
	// agent whose password the connection presents, or (with no agents
	// declared) loopback as the local agent. An agent it names without
	// going through proxy.Engine.Identify has no Proof and counts as the
	// local agent: while the policy declares agents, its actions are denied.
	PostgresIdentify func(context.Context, postgres.ConnInfo) (action.Agent, error)
	// DashboardPort overrides gateway(dashboard_port); 0 picks a free
	// port. Unlike in the policy, where 0 means no dashboard, setting it
	// always serves one.
	DashboardPort *int
	// DashboardPeer identifies the peer behind a dashboard connection;
	// when set, the dashboard admits only the logins and tags the policy
	// lists, and no token is printed. On a tailnet it defaults to the
	// tailnet's WhoIs identity; tests set it to stand in for one.
	DashboardPeer func(net.Conn) (dashboard.Identity, bool)
}

// Gateway is a running gateway.
type Gateway struct {
	opts     Options
	logger   *slog.Logger
	redact   *proxy.RedactingHandler
	engine   *proxy.Engine
	journal  *audit.Journal
	store    *audit.SQLiteStore
	http     *httpproxy.Proxy
	ca       *ca.CA
	sql      *sqlfacts.Analyzer // shared by every postgres endpoint
	proxyLn  net.Listener
	stateDir string
	listen   func(network, addr string) (net.Listener, error)
	judges   *judgeServices
	dash     *dashboardService
	vault    atomic.Pointer[vaultState]
	// transport is the tailnet, when the gateway joined one.
	transport Transport

	// listeners holds the endpoints served on ports of their own, by name.
	// Guarded by reloadMu.
	listeners map[string]*endpointListener

	reloadMu sync.Mutex
	status   ReloadStatus

	stop      chan struct{}
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

// ReloadStatus is the outcome of the last reload attempt.
type ReloadStatus struct {
	At    time.Time
	Hash  string
	Error string
}

// Start loads the policy and serves it. It returns once every listener is
// accepting connections; Close stops it.
func Start(ctx context.Context, opts Options) (*Gateway, error) {
	if opts.LogHandler == nil {
		opts.LogHandler = slog.NewTextHandler(os.Stderr, nil)
	}
	g := &Gateway{opts: opts, redact: proxy.NewRedactingHandler(opts.LogHandler), stop: make(chan struct{}),
		listen: opts.Listen, listeners: make(map[string]*endpointListener)}
	if g.listen == nil {
		g.listen = net.Listen
	}
	if g.opts.DrainTimeout <= 0 {
		g.opts.DrainTimeout = 5 * time.Second
	}
	g.logger = slog.New(g.redact)
	g.sql = sqlfacts.NewAnalyzer(sqlfacts.DefaultCacheEntries, sqlfacts.DefaultCacheBytes)
	p, err := g.load()
	if err != nil {
		return nil, err
	}
	if err := g.open(p.Gateway); err != nil {
		return nil, err
	}
	if err := g.startJudges(ctx, p.Gateway); err != nil {
		g.closeState()
		return nil, err
	}
	snap, vs, err := g.snapshot(ctx, p)
	if err != nil {
		g.stopJudges(context.Background())
		g.closeState()
		return nil, err
	}
	g.engine = proxy.NewEngine(g.journal, snap, g.logger)
	if err := g.joinTailnet(ctx, p, snap); err != nil {
		g.stopJudges(context.Background())
		g.dropVault(vs)
		g.closeState()
		return nil, err
	}
	g.useVault(ctx, vs, p)
	g.refreshRedaction()
	if err := g.serveProxy(p.Gateway); err != nil {
		g.closeTransport()
		g.closeState()
		return nil, err
	}
	added, _, err := g.plan(p)
	if err == nil {
		err = g.commit(ctx, added, nil)
	}
	if err == nil {
		err = g.startDashboard(p.Gateway)
	}
	if err != nil {
		g.Close(context.Background())
		return nil, err
	}
	g.status = ReloadStatus{At: time.Now(), Hash: p.Hash}
	g.writeListeners(p.Gateway)
	where := "local"
	if g.transport != nil {
		where = fmt.Sprint(g.transport)
	}
	g.logger.Info("gateway started", "policy", p.Path, "hash", short(p.Hash), "mode", p.Gateway.Mode,
		"proxy", g.proxyLn.Addr().String(), "on", where, "state_dir", g.stateDir, "endpoints", len(p.Endpoints),
		"agents", len(p.Agents))
	if opts.WatchInterval >= 0 {
		g.wg.Add(1)
		go g.watch(p)
	}
	return g, nil
}

// load evaluates the policy and applies the command-line overrides.
func (g *Gateway) load() (*policy.Policy, error) {
	p, err := policy.Load(g.opts.Config, policy.Options{Logger: g.logger})
	if err != nil {
		return nil, err
	}
	gw := &p.Gateway
	if g.opts.StateDir != "" {
		gw.StateDir = g.opts.StateDir
	}
	if g.opts.Bind != "" {
		gw.Bind = g.opts.Bind
	}
	if g.opts.ProxyPort != nil {
		gw.ProxyPort = *g.opts.ProxyPort
	}
	if err := gw.Validate(); err != nil {
		return nil, fmt.Errorf("gateway settings: %w", err)
	}
	return p, nil
}

// open prepares the state dir: the CA and the audit journal and store.
func (g *Gateway) open(gw policy.Gateway) error {
	g.stateDir = gw.StateDir
	if err := os.MkdirAll(gw.StateDir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	if gw.Audit != "sqlite" {
		return fmt.Errorf("audit = %q: only \"sqlite\" is supported in this release", gw.Audit)
	}
	store, err := audit.OpenSQLite(filepath.Join(gw.StateDir, "audit.db"))
	if err != nil {
		return fmt.Errorf("open audit store: %w", err)
	}
	sync, err := audit.ParseSyncMode(gw.AuditSync)
	if err != nil {
		store.Close()
		return err
	}
	j, err := audit.Open(audit.Options{Dir: filepath.Join(gw.StateDir, "journal"), Sync: sync, Logger: g.logger}, store)
	if err != nil {
		store.Close()
		return fmt.Errorf("open audit journal: %w", err)
	}
	g.store, g.journal = store, j
	return nil
}

// snapshot resolves the policy's secrets and prepares every protocol and
// judge. It returns the Vault client the snapshot reads through, if any;
// the caller keeps it (useVault) or drops it (dropVault).
func (g *Gateway) snapshot(ctx context.Context, p *policy.Policy) (*proxy.Snapshot, *vaultState, error) {
	r, vs, err := g.resolver(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	snap, err := proxy.NewSnapshot(ctx, p, r)
	if err == nil {
		err = httpproxy.Prepare(snap)
	}
	if err == nil {
		err = kubernetes.Prepare(snap)
	}
	if err == nil {
		err = clickhouse.Prepare(snap)
	}
	if err == nil {
		g.redact.AddSecrets(redactions(snap))
		err = g.snapshotJudges(snap)
	}
	if err != nil {
		g.dropVault(vs)
		return nil, nil, err
	}
	return snap, vs, nil
}

// redactions are the byte strings of snap that logs must never show: every
// resolved secret, and the encoded forms of injected ones.
func redactions(snap *proxy.Snapshot) [][]byte {
	values := snap.SecretValues()
	for _, ep := range snap.Policy.Endpoints {
		if ep.Inject != nil {
			values = append(values, ep.Inject.Forms(snap.Secret(ep.Inject.Secret))[1:]...)
		}
	}
	return values
}

// serveProxy opens the proxy port and starts serving it.
func (g *Gateway) serveProxy(gw policy.Gateway) error {
	authority, err := ca.LoadOrCreate(gw.StateDir)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(gw.Bind, strconv.Itoa(gw.ProxyPort))
	ln, err := g.listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s for the proxy: %w", addr, err)
	}
	g.proxyLn = ln
	g.ca = authority
	g.http = httpproxy.New(g.engine, authority, g.logger)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := g.http.Serve(ln); err != nil {
			g.logger.Error("proxy stopped", "error", err)
		}
	}()
	return nil
}

// ProxyAddr is the address of the HTTP proxy port.
func (g *Gateway) ProxyAddr() net.Addr { return g.proxyLn.Addr() }

// ProxyDialAddr is the host:port agents dial for the proxy: on the
// tailnet, the node's name and the proxy port.
func (g *Gateway) ProxyDialAddr() string {
	if g.transport != nil {
		return net.JoinHostPort(g.transport.Host(), strconv.Itoa(port(g.proxyLn.Addr())))
	}
	return g.proxyLn.Addr().String()
}

// Engine is the gateway's decision engine.
func (g *Gateway) Engine() *proxy.Engine { return g.engine }

// Status returns the outcome of the last reload attempt.
func (g *Gateway) Status() ReloadStatus {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	return g.status
}

// Close denies the approvals still waiting, stops the listeners, waits up
// to ctx for requests in flight, revokes Vault leases, and flushes the
// audit journal into the store. Later calls return the first call's
// result.
func (g *Gateway) Close(ctx context.Context) error {
	g.closeOnce.Do(func() {
		close(g.stop)
		derr := g.stopDashboard(ctx)
		jerr := errors.Join(derr, g.stopJudges(ctx))
		err := errors.Join(jerr, g.http.Shutdown(ctx), g.closeListeners(ctx))
		g.wg.Wait()
		_ = os.Remove(filepath.Join(g.stateDir, ListenersFile))
		g.closeErr = errors.Join(err, g.closeVault(ctx), g.closeTransport(), g.closeState())
	})
	return g.closeErr
}

// closeTransport leaves the tailnet, if the gateway joined one.
func (g *Gateway) closeTransport() error {
	if g.transport == nil {
		return nil
	}
	return g.transport.Close()
}

// Transport is the tailnet the gateway joined, or nil.
func (g *Gateway) Transport() Transport { return g.transport }

func (g *Gateway) closeState() error {
	var errs []error
	if g.journal != nil {
		errs = append(errs, g.journal.Close())
	}
	if g.store != nil {
		errs = append(errs, g.store.Close())
	}
	return errors.Join(errs...)
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// Flush waits until every action recorded so far is in the audit store.
func (g *Gateway) Flush(ctx context.Context) error { return g.journal.Flush(ctx) }

// Records returns the audited actions that match f, once everything
// recorded so far is in the audit store.
func (g *Gateway) Records(ctx context.Context, f audit.Filter) ([]audit.Record, error) {
	if err := g.Flush(ctx); err != nil {
		return nil, err
	}
	return g.store.List(ctx, f)
}
