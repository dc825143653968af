package clickhouse_test

import (
	"strings"
	"testing"

	"github.com/wardproject/ward/protocols/clickhouse/clickhousetest"
)

// secretValue sits in a table the e2e policy denies; no request may read it.
const secretValue = "s3cr3t-row-value"

// TestClickHouseHiddenReadsOfADeniedTableFail sends queries that read a
// denied table in ways the facts once missed: tokens the SQL parser and
// ClickHouse read differently (the parser saw a harmless string where
// ClickHouse read the table), a table on the right of IN, and a form body
// ClickHouse takes as external data. None may return the secret row.
func TestClickHouseHiddenReadsOfADeniedTableFail(t *testing.T) {
	h := start(t)
	h.ch.MustQuery(t, "CREATE TABLE secrets (v String) ENGINE = Memory")
	h.ch.MustQuery(t, "INSERT INTO secrets VALUES ('"+secretValue+"')")
	if code, body := h.curl("warehouse", "WARD/", "--data-binary", "SELECT v FROM secrets"); code != 403 {
		t.Fatalf("the plain read of secrets was not denied: %d %s", code, body)
	}
	cases := []struct{ name, sql string }{
		{"backslash in a back-quoted identifier", "SELECT 1 AS `a\\`, 'q`, v FROM secrets --'"},
		{"backslash in a double-quoted identifier", `SELECT 1 AS "a\", 'q", v FROM secrets --'`},
		{"carriage return inside a line comment", "SELECT 'a' -- \r, 'b\n, v FROM secrets -- '"},
		{"nested block comment", "SELECT 'a' /* /* */ , '*/ , (SELECT v FROM secrets) --'"},
		{"nested comment hides the data clause", "INSERT INTO t /* /* */ FORMAT TSV */ SELECT 1, v FROM secrets"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := h.curl("warehouse", "WARD/", "--data-binary", tc.sql)
			if strings.Contains(body, secretValue) {
				t.Fatalf("the secret row came back: status %d body %q", code, body)
			}
			if code != 400 || !strings.Contains(body, "(ACCESS_DENIED)") {
				t.Fatalf("status %d body %q, want 400 ACCESS_DENIED", code, body)
			}
		})
	}
	// The right side of IN may name a table: ClickHouse reads it.
	for _, sql := range []string{
		"SELECT 1 WHERE '" + secretValue + "' IN secrets",
		"SELECT '" + secretValue + "' IN (secrets)",
		"SELECT '" + secretValue + "' NOT IN default.secrets",
	} {
		code, body := h.curl("warehouse", "WARD/", "--data-binary", sql)
		if code != 403 || !strings.Contains(body, "the secrets table is off limits") {
			t.Errorf("%s: status %d body %q, want the policy's denial", sql, code, body)
		}
	}
	// ClickHouse takes any Content-Type starting with multipart/form-data
	// for external data and adds the body's "query" field to the query;
	// Go's MIME parser rejects a duplicate boundary parameter.
	form := "--a\r\nContent-Disposition: form-data; name=query\r\nX: */ '\r\n\r\n*/ v FROM secrets --'\r\n--a--\r\n"
	for _, ct := range []string{"multipart/form-data; boundary=a; boundary=b", "multipart/form-data; boundary=a", "Multipart/Form-Data;boundary=a"} {
		code, body := h.curl("warehouse", "WARD/?query=SELECT%201,%20/*", "-H", "Content-Type: "+ct, "--data-binary", form)
		if strings.Contains(body, secretValue) || code != 400 {
			t.Errorf("Content-Type %s: status %d body %q, want 400 without the secret", ct, code, body)
		}
	}
	if got := h.count(); got != "2" {
		t.Fatalf("table t has %s rows; want 2", got)
	}
}

// TestRefusedRequestDoesNotRecordCredentials: a request ward refuses is
// recorded with its request-target, which must not keep the password the
// agent put in the URL (here the real one).
func TestRefusedRequestDoesNotRecordCredentials(t *testing.T) {
	h := start(t)
	code, _ := h.curl("warehouse", "WARD/?user=ward&Password="+clickhousetest.Password+"&password="+clickhousetest.Password, "--data-binary", "SELEKT 1")
	if code != 400 {
		t.Fatalf("status %d, want 400", code)
	}
	code, _ = h.curl("warehouse", "WARD/?password="+clickhousetest.Password+"&query=%zz")
	if code != 400 {
		t.Fatalf("status %d, want 400", code)
	}
	recs := h.records()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for _, rec := range recs {
		if strings.Contains(string(rec.Facts)+rec.Summary+string(rec.Raw), clickhousetest.Password) {
			t.Errorf("audit record %s holds the password: %s", rec.ID, rec.Facts)
		}
	}
}
