package policy

import "github.com/wardproject/ward/builtins"

// PostgresSettings holds what a postgres(...) declaration sets beyond the fields
// every endpoint shares.
type PostgresSettings struct {
	// Database is the only database agents may use; empty lets the agent
	// name it in its startup message.
	Database string
	// User is the role the gateway logs in as upstream; Password its
	// secret (nil: the server must not ask for one).
	User     string
	Password *builtins.Secret
	// TLS is the upstream TLS mode: "verify-full", "require" or "disable".
	TLS string
	// AgentTLS is true when agents may negotiate TLS with the gateway
	// (with a certificate from the gateway's CA).
	AgentTLS bool
	// MaxMessage bounds one protocol message from an agent, in bytes.
	MaxMessage int64
}

// Postgres upstream TLS modes.
const (
	PostgresTLSVerifyFull = "verify-full"
	PostgresTLSRequire    = "require"
	PostgresTLSDisable    = "disable"
)
