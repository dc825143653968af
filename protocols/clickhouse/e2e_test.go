package clickhouse_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/clickhouse/clickhousetest"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/gateway/gatewaytest"
)

const e2ePolicy = `
OUTSIDE = ("url", "file", "s3", "remote", "remotesecure", "hdfs", "mysql", "jdbc", "odbc", "executable", "cluster")

def check(q):
    if len(q.statements) != 1:
        return deny("one statement per query")
    if q.writes:
        return deny("read-only: no " + ", ".join(q.verbs))
    if [t for t in q.tables if t.split(".")[-1] == "secrets"]:
        return deny("the secrets table is off limits")
    for f in q.functions:
        if f in OUTSIDE:
            return deny("table function " + f + " reaches outside the database")
    return allow("reads are fine")

clickhouse(
    name = "warehouse",
    upstream = "UPSTREAM",
    user = "ward",
    password = secrets.env("CH_PASSWORD"),
    port = 0,
    on_query = check,
)

clickhouse(
    name = "warehouse-headers",
    upstream = "UPSTREAM",
    user = "ward",
    password = secrets.env("CH_PASSWORD"),
    auth = "headers",
    port = 0,
    on_query = check,
)
`

type harness struct {
	t    *testing.T
	dir  string
	ch   *clickhousetest.Server
	gw   *gateway.Gateway
	logs bytes.Buffer
}

func start(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), ch: clickhousetest.Start(t)}
	policy := strings.ReplaceAll(e2ePolicy, "UPSTREAM", h.ch.HTTP)
	if err := os.WriteFile(filepath.Join(h.dir, "ward.star"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	port := 0
	gw, err := gateway.Start(context.Background(), gateway.Options{
		Config:        filepath.Join(h.dir, "ward.star"),
		StateDir:      filepath.Join(h.dir, "state"),
		ProxyPort:     &port,
		LogHandler:    slog.NewTextHandler(&h.logs, nil),
		Resolver:      builtins.Resolver{LookupEnv: func(name string) (string, bool) { return clickhousetest.Password, name == "CH_PASSWORD" }},
		WatchInterval: -1,
	})
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	h.gw = gw
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := gw.Close(ctx); err != nil {
			t.Errorf("close gateway: %v", err)
		}
	})
	h.ch.MustQuery(t, "CREATE TABLE t (a UInt32, s String) ENGINE = Memory")
	h.ch.MustQuery(t, "INSERT INTO t VALUES (1, 'one'), (2, 'two')")
	return h
}

// curl sends a request through the gateway with the real curl and returns
// the HTTP status and body.
func (h *harness) curl(endpoint string, args ...string) (int, string) {
	h.t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			h.t.Fatal("curl is not installed")
		}
		h.t.Skip("SKIPPING: curl is not installed (CI fails without it)")
	}
	base := "http://" + h.gw.EndpointAddr(endpoint).String()
	full := []string{"-sS", "-w", "\n%{http_code}", "--max-time", "20"}
	for _, a := range args {
		full = append(full, strings.ReplaceAll(a, "WARD", base))
	}
	out, err := exec.Command(bin, full...).CombinedOutput()
	if err != nil {
		h.t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndexByte(s, '\n')
	code := 0
	for _, c := range s[i+1:] {
		code = code*10 + int(c-'0')
	}
	return code, s[:i]
}

func (h *harness) count() string {
	return strings.TrimSpace(h.ch.MustQuery(h.t, "SELECT count() FROM t"))
}

func TestClickHouseReadsAllowedWithInjectedCredential(t *testing.T) {
	h := start(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"query in body", []string{"WARD/", "--data-binary", "SELECT sum(a) FROM t"}, "3\n"},
		{"query in URL", []string{"WARD/?query=SELECT%20count()%20FROM%20t"}, "2\n"},
		{"format and setting", []string{"WARD/?max_threads=1&default_format=JSONEachRow", "--data-binary", "SELECT s FROM t ORDER BY a"}, "{\"s\":\"one\"}\n{\"s\":\"two\"}\n"},
		{"agent's own credentials are replaced", []string{"-u", "default:wrong", "WARD/?user=default&password=wrong", "--data-binary", "SELECT 42"}, "42\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := h.curl("warehouse", tc.args...)
			if code != 200 || body != tc.want {
				t.Fatalf("status %d body %q, want 200 %q", code, body, tc.want)
			}
		})
	}
	code, body := h.curl("warehouse-headers", "WARD/", "--data-binary", "SELECT count() FROM t")
	if code != 200 || body != "2\n" {
		t.Fatalf("auth = headers: status %d body %q", code, body)
	}
	for _, rec := range h.records() {
		if rec.Verdict != audit.VerdictAllow || strings.Contains(string(rec.Raw), "wrong") || strings.Contains(string(rec.Raw), clickhousetest.Password) {
			t.Errorf("audit record %s: verdict %s raw %s", rec.ID, rec.Verdict, rec.Raw)
		}
	}
}

func TestClickHouseDenials(t *testing.T) {
	h := start(t)
	cases := []struct {
		name   string
		args   []string
		status int
		reason string
	}{
		{"drop", []string{"WARD/", "--data-binary", "DROP TABLE t"}, 403, "ward: denied: read-only: no drop"},
		{"insert values", []string{"WARD/", "--data-binary", "INSERT INTO t VALUES (3, 'three')"}, 403, "ward: denied: read-only: no insert"},
		{"insert format", []string{"WARD/?query=INSERT%20INTO%20t%20FORMAT%20TSV", "--data-binary", "3\tthree\n"}, 403, "ward: denied: read-only: no insert"},
		{"url table function", []string{"WARD/", "--data-binary", "SELECT * FROM url('http://127.0.0.1:1/x.csv', CSV, 'a String')"}, 403, "ward: denied: table function url reaches outside the database"},
		{"multi-statement", []string{"WARD/", "--data-binary", "SELECT 1; DROP TABLE t"}, 403, "ward: denied: one statement per query"},
		{"split between URL and body", []string{"WARD/?query=DROP", "--data-binary", "TABLE t"}, 403, "ward: denied: read-only: no drop"},
		{"unparsable", []string{"WARD/", "--data-binary", "SELEKT * FRM t"}, 400, "ward: refused: cannot parse the query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := h.curl("warehouse", tc.args...)
			if code != tc.status || !strings.HasPrefix(body, "Code: 497. DB::Exception: "+tc.reason) || !strings.Contains(body, "(ACCESS_DENIED)") {
				t.Fatalf("status %d body %q, want %d with %q", code, body, tc.status, tc.reason)
			}
			if got := h.count(); got != "2" {
				t.Fatalf("table t has %s rows after a denied query; want 2", got)
			}
		})
	}
	var denied, refused int
	for _, rec := range h.records() {
		switch rec.Verdict {
		case audit.VerdictDeny:
			denied++
		case audit.VerdictRefused:
			refused++
		default:
			t.Errorf("unexpected verdict %s for %s", rec.Verdict, rec.Summary)
		}
	}
	if denied != 6 || refused != 1 {
		t.Errorf("audit: %d denied, %d refused; want 6 and 1", denied, refused)
	}
}

// records returns every audited action.
func (h *harness) records() []audit.Record { return gatewaytest.Records(h.t, h.gw) }
