package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/starlark/policy"
)

// upstream is a logged-in upstream session, taken over from pgconn.
type upstream struct {
	conn     net.Conn
	fe       *pgproto3.Frontend
	pid      uint32
	secret   []byte
	params   map[string]string
	txStatus byte
	addr     string
}

// passParams are the startup parameters of the agent passed upstream.
var passParams = []string{"application_name", "DateStyle", "TimeZone", "extra_float_digits", "IntervalStyle"}

// connectUpstream logs in to ep's upstream as its declared user, with the
// injected password, over TLS as declared.
func (s *Server) connectUpstream(ctx context.Context, snap *proxy.Snapshot, ep *policy.Endpoint, database string, agentParams map[string]string) (*upstream, error) {
	set := ep.Postgres
	host, portStr, err := net.SplitHostPort(ep.Upstream)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	user := set.User
	if set.UserSecret != nil {
		user = string(snap.Secret(set.UserSecret))
		if user == "" {
			return nil, proxy.CredentialUnavailable(ep.Name)
		}
	}
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable",
		connValue(host), port, connValue(user), connValue(database)))
	if err != nil {
		return nil, fmt.Errorf("upstream config: %w", err)
	}
	// Nothing from the gateway's environment (PGPASSWORD, ~/.pgpass,
	// PGSSLMODE, PGOPTIONS, …) may shape the upstream session.
	cfg.Host, cfg.Port, cfg.User, cfg.Database = host, uint16(port), user, database
	cfg.Password = ""
	if set.Password != nil {
		cfg.Password = string(snap.Secret(set.Password))
		if cfg.Password == "" {
			// A Vault lease that ended and could not be renewed: fail closed.
			return nil, proxy.CredentialUnavailable(ep.Name)
		}
	}
	cfg.TLSConfig, err = upstreamTLS(snap, ep, host)
	if err != nil {
		return nil, err
	}
	cfg.Fallbacks, cfg.ValidateConnect, cfg.AfterConnect, cfg.AfterNetConnect = nil, nil, nil, nil
	cfg.SSLNegotiation, cfg.MinProtocolVersion, cfg.MaxProtocolVersion = "postgres", "3.0", "3.0"
	cfg.KerberosSrvName, cfg.KerberosSpn, cfg.OAuthTokenProvider = "", "", nil
	cfg.ConnectTimeout = 0
	if s.Dial != nil {
		cfg.DialFunc = s.Dial
	}
	cfg.RuntimeParams = map[string]string{"client_encoding": "UTF8", "standard_conforming_strings": "on", "application_name": "ward"}
	for _, k := range passParams {
		if v := agentParams[k]; v != "" {
			cfg.RuntimeParams[k] = v
		}
	}
	if v := agentParams["fallback_application_name"]; v != "" && agentParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = v
	}
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, upstreamError(err, cfg.Password)
	}
	if err := pc.SyncConn(ctx); err != nil {
		pc.Close(context.Background())
		return nil, upstreamError(err, cfg.Password)
	}
	hj, err := pc.Hijack()
	if err != nil {
		pc.Close(context.Background())
		return nil, err
	}
	up := &upstream{conn: hj.Conn, pid: hj.PID, secret: hj.SecretKey, params: hj.ParameterStatuses,
		txStatus: hj.TxStatus, addr: ep.Upstream}
	up.fe = pgproto3.NewFrontend(up.conn, up.conn)
	up.fe.SetMaxBodyLen(1 << 30)
	return up, nil
}

// connValue quotes a connection-string value.
func connValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// upstreamTLS builds the TLS configuration of a tls mode.
func upstreamTLS(snap *proxy.Snapshot, ep *policy.Endpoint, host string) (*tls.Config, error) {
	switch ep.Postgres.TLS {
	case policy.PostgresTLSDisable:
		return nil, nil
	case policy.PostgresTLSRequire:
		return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, nil //nolint:gosec // tls = "require" means encryption without verification, as in libpq
	}
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if ep.CA != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(snap.Secret(ep.CA)) {
			return nil, fmt.Errorf("endpoint %s: ca %s holds no PEM certificates", ep.Name, ep.CA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// upstreamError describes a failed upstream login without the password.
func upstreamError(err error, password string) error {
	msg := err.Error()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		msg = pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
	}
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "[redacted]")
	}
	return errors.New(msg)
}
