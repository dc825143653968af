package kubernetes

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"

	"sigs.k8s.io/yaml"
)

// Cluster is one kubernetes endpoint in a generated kubeconfig.
type Cluster struct {
	Name      string // the endpoint's name: the context's name
	Server    string // the gateway's URL for it, see ServerURL
	Namespace string // the context's default namespace; "" for kubectl's
}

// ServerURL is the URL agents use for an endpoint served on bind:port. A
// wildcard bind address ("", 0.0.0.0, ::) is reached on loopback.
func ServerURL(bind string, port int) string {
	switch bind {
	case "", "0.0.0.0":
		bind = "127.0.0.1"
	case "::":
		bind = "::1"
	}
	return "https://" + net.JoinHostPort(bind, strconv.Itoa(port))
}

// PlaceholderToken is the token of generated kubeconfigs. It is no
// credential: kubectl prompts for a password when a kubeconfig user has
// none, so the user carries this placeholder, which the gateway drops
// with any other Authorization the agent sends.
const PlaceholderToken = "ward-placeholder-not-a-credential"

// Kubeconfig returns a kubeconfig (YAML) for agents: one context per
// cluster, the first current, each trusting caPEM (the gateway CA) and
// holding no credential (see PlaceholderToken) — the gateway injects the
// real one after its policy allows a request.
func Kubeconfig(caPEM []byte, clusters ...Cluster) ([]byte, error) {
	if len(clusters) == 0 {
		return nil, errors.New("kubeconfig: no kubernetes endpoint")
	}
	if len(caPEM) == 0 {
		return nil, errors.New("kubeconfig: no gateway CA")
	}
	cfg := kubeconfig{APIVersion: "v1", Kind: "Config", CurrentContext: clusters[0].Name,
		Users:       []namedUser{{Name: "ward-agent", User: map[string]any{"token": PlaceholderToken}}},
		Preferences: map[string]any{}}
	ca := base64.StdEncoding.EncodeToString(caPEM)
	for _, c := range clusters {
		if c.Name == "" || c.Server == "" {
			return nil, fmt.Errorf("kubeconfig: cluster %q needs a name and a server", c.Name)
		}
		cfg.Clusters = append(cfg.Clusters, namedCluster{Name: "ward-" + c.Name,
			Cluster: clusterEntry{Server: c.Server, CertificateAuthorityData: ca}})
		cfg.Contexts = append(cfg.Contexts, namedContext{Name: c.Name,
			Context: contextEntry{Cluster: "ward-" + c.Name, User: "ward-agent", Namespace: c.Namespace}})
	}
	return yaml.Marshal(cfg)
}

type kubeconfig struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Clusters       []namedCluster `json:"clusters"`
	Contexts       []namedContext `json:"contexts"`
	CurrentContext string         `json:"current-context"`
	Users          []namedUser    `json:"users"`
	Preferences    map[string]any `json:"preferences"`
}

type namedCluster struct {
	Name    string       `json:"name"`
	Cluster clusterEntry `json:"cluster"`
}

type clusterEntry struct {
	Server                   string `json:"server"`
	CertificateAuthorityData string `json:"certificate-authority-data"`
}

type namedContext struct {
	Name    string       `json:"name"`
	Context contextEntry `json:"context"`
}

type contextEntry struct {
	Cluster   string `json:"cluster"`
	User      string `json:"user"`
	Namespace string `json:"namespace,omitempty"`
}

type namedUser struct {
	Name string         `json:"name"`
	User map[string]any `json:"user"`
}
