package agentenv

import (
	"fmt"
	"net"
	"strconv"

	"github.com/wardproject/ward/starlark/policy"
)

// port is where an endpoint listens: as the running gateway recorded it,
// else as declared.
func (o Options) port(ep *policy.Endpoint) (int, error) {
	if p, ok := o.Ports[ep.Name]; ok && p > 0 {
		return p, nil
	}
	if ep.Port > 0 {
		return ep.Port, nil
	}
	return 0, fmt.Errorf("endpoint %s listens on a free port (port = 0) and no running gateway recorded it in the state dir: start the gateway, or pass --state-dir", ep.Name)
}

// postgresEndpoint is the named postgres endpoint, the only one, or nil.
func (o Options) postgresEndpoint() (*policy.Endpoint, error) {
	var found []*policy.Endpoint
	for _, ep := range o.Policy.Endpoints {
		if ep.Protocol == "postgres" {
			found = append(found, ep)
		}
	}
	if o.Postgres != "" {
		ep := o.Policy.Endpoint(o.Postgres)
		if ep == nil || ep.Protocol != "postgres" {
			return nil, fmt.Errorf("--postgres %s: the policy declares no such postgres endpoint", o.Postgres)
		}
		return ep, nil
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("the policy declares %d postgres endpoints: pass --postgres NAME for the PG* variables", len(found))
}

// setPostgres points libpq's variables at the postgres endpoint: the
// role and database the gateway logs in with (the agent's own PGDATABASE
// is kept when the endpoint lets agents choose), and TLS verified against
// the gateway CA when the endpoint offers TLS. The agent's password, when
// it has a ward credential, is PGPASSWORD; the real one stays in the
// gateway.
func (e *Env) setPostgres(o Options, password string, caPath string) error {
	ep, err := o.postgresEndpoint()
	if err != nil || ep == nil {
		return err
	}
	port, err := o.port(ep)
	if err != nil {
		return err
	}
	set := ep.Postgres
	e.set("PGHOST", o.Host, false)
	e.set("PGPORT", strconv.Itoa(port), false)
	e.set("PGUSER", set.User, false)
	if set.Database != "" {
		e.set("PGDATABASE", set.Database, false)
	}
	if set.AgentTLS {
		e.set("PGSSLMODE", "verify-full", false)
		e.set("PGSSLROOTCERT", caPath, false)
	} else {
		e.set("PGSSLMODE", "disable", false)
	}
	if password != "" {
		e.set("PGPASSWORD", password, true)
	}
	return nil
}

// setKubernetes writes a kubeconfig for the kubernetes endpoints; with a
// ward credential, the kubeconfig's token is the agent's password.
func (e *Env) setKubernetes(o Options, password string) error {
	var clusters []KubeCluster
	for _, ep := range o.Policy.Endpoints {
		if ep.Protocol != "kubernetes" {
			continue
		}
		port, err := o.port(ep)
		if err != nil {
			return err
		}
		clusters = append(clusters, KubeCluster{Endpoint: ep, Server: "https://" + net.JoinHostPort(o.Host, strconv.Itoa(port))})
	}
	if len(clusters) == 0 {
		return nil
	}
	if o.Kubeconfig == nil {
		return fmt.Errorf("endpoint %s is kubernetes, but this build of ward cannot write kubeconfigs", clusters[0].Endpoint.Name)
	}
	cfg, err := o.Kubeconfig(o.CA, clusters, password)
	if err != nil {
		return err
	}
	path, err := o.Files.Write("kubeconfig", cfg)
	if err != nil {
		return fmt.Errorf("write the kubeconfig: %w", err)
	}
	e.set("KUBECONFIG", path, false)
	return nil
}
