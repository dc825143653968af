package policy

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/builtins"
)

// clickhouse is the builtin clickhouse.
//
//	def clickhouse(name, upstream, port, on_query, user = "default", password = None,
//	               auth = "basic", ca = None, body_limit = "1MiB"):
//
// clickhouse declares a ClickHouse server's HTTP interface that agents
// reach on port of the gateway (plain HTTP, as ClickHouse's own port 8123).
// upstream is "http://host:8123" or "https://host:8443" (ca: PEM roots for
// https). The gateway authenticates as user with password (a secret) after
// an allow, as auth says: "basic" (Authorization: Basic) or "headers"
// (X-ClickHouse-User and X-ClickHouse-Key); whatever credentials the agent
// sent are removed. on_query(q) decides every query. port = 0 picks a free
// port.
func (d *declarations) clickhouse(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, upstream string
		port           int
		onQuery        starlark.Callable
		user           = "default"
		password       *builtins.Secret
		auth           = "basic"
		ca             *builtins.Secret
		bodyLimit      = size(1 << 20)
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &name, "upstream", &upstream, "port", &port, "on_query", &onQuery,
		"user?", &user, "password?", &password, "auth?", &auth, "ca?", &ca, "body_limit?", &bodyLimit); err != nil {
		return nil, err
	}
	u, err := parseUpstreamURL(upstream, "http", "https")
	if err != nil {
		return nil, fmt.Errorf("%s: upstream: %w", b.Name(), err)
	}
	if u.Path != "" {
		return nil, fmt.Errorf("%s: upstream %q: give scheme://host:port without a path", b.Name(), upstream)
	}
	if err := checkPort(port); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if auth != "basic" && auth != "headers" {
		return nil, fmt.Errorf("%s: auth = %q, want \"basic\" or \"headers\"", b.Name(), auth)
	}
	if user == "" {
		return nil, fmt.Errorf("%s: user is empty", b.Name())
	}
	for _, c := range user {
		if c < 0x20 || c == 0x7f || c == ':' {
			return nil, fmt.Errorf("%s: user %q has a ':' or a control character", b.Name(), user)
		}
	}
	if ca != nil && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: ca is only for an https:// upstream", b.Name())
	}
	ep := &Endpoint{Name: name, Protocol: "clickhouse", Upstream: upstream, CA: ca, Port: port,
		BodyLimit:  int64(bodyLimit),
		ClickHouse: &ClickHouseSettings{URL: u, User: user, Password: password, Auth: auth},
		Hooks:      map[string]starlark.Callable{"on_query": onQuery}, Hook: "on_query"}
	if err := checkHook(b, "on_query", onQuery); err != nil {
		return nil, err
	}
	if err := d.addEndpoint(thread, b, ep); err != nil {
		return nil, err
	}
	return starlark.None, nil
}
