package policy

import (
	"net/url"

	"github.com/wardproject/ward/builtins"
)

// ClickHouseSettings holds what a clickhouse(...) declaration sets beyond
// the fields every endpoint shares. The endpoint's Upstream is the
// ClickHouse HTTP interface's URL as written and its CA the roots for an
// https:// upstream.
type ClickHouseSettings struct {
	// URL is the parsed upstream: http or https, host and port.
	URL *url.URL
	// User is the ClickHouse user the gateway authenticates as.
	User string
	// Password is its password; nil sends an empty one.
	Password *builtins.Secret
	// Auth is how the credential travels: "basic" (Authorization: Basic)
	// or "headers" (X-ClickHouse-User and X-ClickHouse-Key).
	Auth string
}
