// Package clickhousetest runs a real ClickHouse server for tests: Debian's
// clickhouse-server with a configuration of its own (a temporary data
// directory, free ports on 127.0.0.1, one password-protected user), so
// tests never touch a system installation. Without the binary, tests skip
// with a loud message locally and fail when CI=true.
package clickhousetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// User and Password are the credentials of the server's only user.
const (
	User     = "ward"
	Password = "ch-canary-3b8e1f-password"
)

// Server is a running clickhouse-server.
type Server struct {
	// HTTP is the base URL of the HTTP interface: "http://127.0.0.1:PORT".
	HTTP string
	dir  string
}

// Binary returns the path of clickhouse-server, or "" if it is not
// installed.
func Binary() string {
	for _, p := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// Start runs a server for the test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("clickhouse-server is not installed; CI must install it (apt-get install clickhouse-server)")
		}
		t.Skip("SKIPPING: clickhouse-server is not installed (apt-get install clickhouse-server; CI fails without it)")
	}
	s := &Server{dir: t.TempDir()}
	httpPort, tcpPort := freePort(t), freePort(t)
	s.HTTP = "http://127.0.0.1:" + strconv.Itoa(httpPort)
	if err := s.writeConfig(httpPort, tcpPort); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	logFile, err := os.Create(filepath.Join(s.dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start clickhouse-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			cancel()
			<-done
		}
		cancel()
		logFile.Close()
	})
	if err := s.waitReady(done); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		t.Fatalf("clickhouse-server did not start: %v\n%s", err, log)
	}
	return s
}

func (s *Server) writeConfig(httpPort, tcpPort int) error {
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o700); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>%d</http_port>
  <tcp_port>%d</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>%[3]s/data/</path>
  <tmp_path>%[3]s/tmp/</tmp_path>
  <user_files_path>%[3]s/user_files/</user_files_path>
  <format_schema_path>%[3]s/format_schemas/</format_schema_path>
  <users_config>%[3]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>104857600</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`, httpPort, tcpPort, s.dir)
	users := fmt.Sprintf(`<yandex>
  <profiles><default></default></profiles>
  <users>
    <%[1]s><password>%[2]s</password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></%[1]s>
  </users>
  <quotas><default></default></quotas>
</yandex>
`, User, Password)
	if err := os.WriteFile(filepath.Join(s.dir, "config.xml"), []byte(config), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "users.xml"), []byte(users), 0o600)
}

func (s *Server) waitReady(done <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("the server exited")
		default:
		}
		if resp, err := http.Get(s.HTTP + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s/ping within a minute", s.HTTP)
}

// Query runs sql directly (not through ward) as the server's user and
// returns the response body; a non-200 answer is an error.
func (s *Server) Query(sql string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, s.HTTP+"/", strings.NewReader(sql))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(User, Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	return string(body), nil
}

// MustQuery is Query that fails the test on error.
func (s *Server) MustQuery(t testing.TB, sql string) string {
	t.Helper()
	out, err := s.Query(sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// URL is the server's HTTP URL with the given query parameters.
func (s *Server) URL(params url.Values) string { return s.HTTP + "/?" + params.Encode() }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
