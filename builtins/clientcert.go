package builtins

import (
	"fmt"

	"go.starlark.net/starlark"
)

// ClientCert is a TLS client certificate the gateway presents to an
// upstream (a Kubernetes API server) after an allow. Both halves are
// secrets: the agent never sees either.
type ClientCert struct {
	Cert *Secret // PEM certificate (chain)
	Key  *Secret // PEM private key
}

// ClientCertBuiltin is the builtin client_cert.
//
//	def client_cert(cert, key):   # TLS client certificate: two PEM secrets
var ClientCertBuiltin = starlark.NewBuiltin("client_cert", newClientCert)

func newClientCert(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cert, key *Secret
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cert", &cert, "key", &key); err != nil {
		return nil, err
	}
	return &ClientCert{Cert: cert, Key: key}, nil
}

// String renders the credential without its values.
func (c *ClientCert) String() string { return fmt.Sprintf("client_cert(%s, %s)", c.Cert, c.Key) }

// Type is "client_cert".
func (c *ClientCert) Type() string { return "client_cert" }

// Freeze is a no-op: the value is immutable.
func (c *ClientCert) Freeze() {}

// Truth is always true.
func (c *ClientCert) Truth() starlark.Bool { return true }

// Hash refuses: credentials are not dict keys.
func (c *ClientCert) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: client_cert") }

var _ starlark.Value = (*ClientCert)(nil)
