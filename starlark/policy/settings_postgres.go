package policy

import (
	"time"

	"github.com/wardproject/ward/builtins"
)

// PostgresSettings holds what a postgres(...) declaration sets beyond the fields
// every endpoint shares.
type PostgresSettings struct {
	// Database is the only database agents may use; empty lets the agent
	// name it in its startup message.
	Database string
	// User is the role the gateway logs in as upstream; Password its
	// secret (nil: the server must not ask for one). When the role is
	// itself a secret (dynamic credentials: vault.read(…, "username")),
	// UserSecret is set and User is its handle ("<secret vault:…>"), which
	// is what hooks and the audit log see.
	User       string
	UserSecret *builtins.Secret
	Password   *builtins.Secret
	// TLS is the upstream TLS mode: "verify-full", "require" or "disable".
	TLS string
	// AgentTLS is true when agents may negotiate TLS with the gateway
	// (with a certificate from the gateway's CA).
	AgentTLS bool
	// MaxMessage bounds one protocol message from an agent, in bytes.
	MaxMessage int64
	// MaxQuery bounds the SQL text of one Query or Parse that ward
	// analyses, in bytes (analysis takes some 300 bytes of memory per
	// byte of SQL); longer text is refused.
	MaxQuery int64
	// MaxHoldInTransaction bounds how long judges may hold a statement
	// sent inside an open transaction (its locks stay held meanwhile);
	// 0: only the judges' own timeouts.
	MaxHoldInTransaction time.Duration
}

// Postgres upstream TLS modes.
const (
	PostgresTLSVerifyFull = "verify-full"
	PostgresTLSRequire    = "require"
	PostgresTLSDisable    = "disable"
)
