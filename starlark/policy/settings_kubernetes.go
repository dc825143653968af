package policy

import (
	"net/url"

	"github.com/wardproject/ward/builtins"
)

// KubernetesSettings holds what a kubernetes(...) declaration sets beyond
// the fields every endpoint shares. The endpoint's Upstream is the API
// server's URL as written, its CA the cluster CA, and its Inject the bearer
// token (when the credential is bearer(...)).
type KubernetesSettings struct {
	// Server is the parsed API server URL: https, host, port and an
	// optional path prefix (for API servers behind a path-routing proxy).
	Server *url.URL
	// ClientCert is the client certificate presented to the API server,
	// when the credential is client_cert(...).
	ClientCert *builtins.ClientCert
	// Namespace is the default namespace written into generated
	// kubeconfigs ("" leaves kubectl's default).
	Namespace string
}
