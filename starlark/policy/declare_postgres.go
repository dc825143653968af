package policy

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
)

// postgres is the builtin postgres.
//
//	def postgres(name, port, upstream, user, on_query, database = None,
//	             password = None, tls = "verify-full", ca = None,
//	             agent_tls = True, max_message = "64MiB",
//	             agent_tls = True, max_message = "64MiB",
//	             max_query = "1MiB", max_hold_in_transaction = None):
//
// postgres declares a Postgres database that agents reach on port of the
// gateway (0 picks a free port). upstream is the real server, "host" or
// "host:port" (default port 5432). The gateway logs in upstream as user
// with password (a secret; agents never see it), over TLS as tls says:
// "verify-full" checks the server's certificate and name against the
// system roots or ca (a secret holding PEM roots), "require" encrypts
// without checking, "disable" uses plain TCP. database, when set, is the
// only database agents may ask for. on_query(q) decides every statement
// message. agent_tls offers TLS to agents with a certificate from the
// gateway's CA. max_message bounds one message from an agent; max_query
// (at most max_message, which is its default when smaller than 1MiB) the
// SQL text of one statement message that ward analyses (longer text is
// refused: analysis needs some 300 bytes of memory per byte). user may be
// a secret too (dynamic credentials: vault.read(path, "username") with
// password = vault.read(path, "password")). max_hold_in_transaction bounds
// how long judges may hold a statement sent inside an open transaction,
// whose locks stay held while someone decides; past it the statement is
// denied.
func (d *declarations) postgres(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, upstream, user string
		userArg              starlark.Value
		maxHold              starlark.Value = starlark.None
		port                 int
		onQuery              starlark.Callable
		database             starlark.Value = starlark.None
		password, ca         *builtins.Secret
		tls                  = PostgresTLSVerifyFull
		agentTLS             = true
		maxMessage           = size(64 << 20)
		maxQuery             = size(-1) // default: 1MiB, or max_message if smaller
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &name, "port", &port, "upstream", &upstream, "user", &userArg, "on_query", &onQuery,
		"database?", &database, "password?", &password, "tls?", &tls, "ca?", &ca,
		"agent_tls?", &agentTLS, "max_message?", &maxMessage, "max_query?", &maxQuery,
		"max_hold_in_transaction?", &maxHold); err != nil {
		return nil, err
	}
	if maxQuery < 0 {
		maxQuery = min(1<<20, maxMessage)
	}
	var userSecret *builtins.Secret
	switch u := userArg.(type) {
	case starlark.String:
		user = string(u)
	case *builtins.Secret:
		userSecret, user = u, u.String()
	default:
		return nil, fmt.Errorf("%s: user must be a role name or a secret, got %s", b.Name(), userArg.Type())
	}
	var hold duration
	if maxHold != starlark.None {
		if err := hold.Unpack(maxHold); err != nil {
			return nil, fmt.Errorf("%s: max_hold_in_transaction: %v", b.Name(), err)
		}
	}
	set := &PostgresSettings{User: user, UserSecret: userSecret, Password: password, TLS: tls, AgentTLS: agentTLS,
		MaxMessage: int64(maxMessage), MaxQuery: int64(maxQuery), MaxHoldInTransaction: time.Duration(hold)}
	if database != starlark.None {
		s, ok := starlark.AsString(database)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s: database must be a non-empty string or None", b.Name())
		}
		set.Database = s
	}
	hostPort, err := postgresUpstream(upstream)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	switch {
	case port < 0 || port > 65535:
		return nil, fmt.Errorf("%s: port %d out of range (0 picks a free port)", b.Name(), port)
	case user == "":
		return nil, fmt.Errorf("%s: user must name the role the gateway logs in as", b.Name())
	case tls != PostgresTLSVerifyFull && tls != PostgresTLSRequire && tls != PostgresTLSDisable:
		return nil, fmt.Errorf("%s: tls = %q: want \"verify-full\", \"require\" or \"disable\"", b.Name(), tls)
	case ca != nil && tls != PostgresTLSVerifyFull:
		return nil, fmt.Errorf("%s: ca is only used with tls = \"verify-full\"", b.Name())
	case maxMessage < 1<<10 || maxMessage > 1<<30:
		return nil, fmt.Errorf("%s: max_message must be between 1KiB and 1GiB", b.Name())
	case maxQuery < 1<<10 || maxQuery > maxMessage:
		return nil, fmt.Errorf("%s: max_query must be between 1KiB and max_message", b.Name())
	}
	if err := checkHook(b, "on_query", onQuery); err != nil {
		return nil, err
	}
	ep := &Endpoint{Name: name, Protocol: "postgres", Port: port, Upstream: hostPort, CA: ca, Postgres: set,
		Hooks: map[string]starlark.Callable{"on_query": onQuery}, Hook: "on_query"}
	if err := d.addEndpoint(thread, b, ep); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// postgresUpstream validates "host" or "host:port" and adds the default
// port.
func postgresUpstream(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "5432"
	}
	if !ValidHost(host) {
		return "", fmt.Errorf("upstream %q: want \"host\" or \"host:port\"", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("upstream %q: bad port %q", s, port)
	}
	return net.JoinHostPort(host, port), nil
}
