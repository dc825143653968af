package clickhouse

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/wardproject/ward/starlark/policy"
)

// Query is the facts of a ClickHouse query sent to the HTTP interface.
// Hooks (on_query) read:
//
//	sql          the query text: the query URL parameter, a newline, and the
//	             body (ClickHouse concatenates them), up to the data of an
//	             INSERT (rows in the Values format, which are SQL
//	             expressions, included)
//	statements   list of statements, each with verb, tables, functions, text
//	verbs        union of the statements' verbs ("select", "insert", "drop", …)
//	tables       union of the tables named ("db.table" when qualified)
//	functions    union of the functions called, table functions included
//	             (url, file, s3, remote, …), lowercase
//	writes       True if any statement changes data, schema, privileges or
//	             the server (insert, create, alter, drop, truncate, rename,
//	             delete, optimize, system, grant, attach, detach)
//	settings     dict of settings: URL parameters that are settings, then
//	             SETTINGS clauses and SET statements
//	format       the FORMAT clause, else default_format / X-ClickHouse-Format
//	database     the database parameter or X-ClickHouse-Database header
//	params       dict of query parameters (param_<name>) by name
//	session_id   the session_id parameter
//	insert_data  True when rows follow an INSERT in the request
//	method       "GET" or "POST"
type Query struct {
	Method      string
	SQL         string
	Statements  []Statement
	Verbs       []string
	Tables      []string
	Functions   []string
	Writes      bool
	Settings    map[string]string
	Format      string
	Database    string
	QueryParams map[string]string
	SessionID   string
	InsertData  bool

	Params    url.Values          // URL parameters without the agent's credentials
	Header    map[string][]string // the headers the decoder read
	head      string              // the SQL parsed for the statements: up to INSERT data
	valuesSQL string              // INSERT ... VALUES with its rows, for parsing
	fromParam bool                // the query came (partly) in the URL
	fromBody  bool                // the query came (partly) in the body
}

var queryAttrs = []string{"database", "format", "functions", "insert_data", "method", "params",
	"session_id", "settings", "sql", "statements", "tables", "verbs", "writes"}

// Attr returns one fact.
func (q *Query) Attr(name string) (starlark.Value, error) {
	switch name {
	case "method":
		return starlark.String(q.Method), nil
	case "sql":
		return starlark.String(q.SQL), nil
	case "statements":
		out := make(starlark.Tuple, len(q.Statements))
		for i, st := range q.Statements {
			out[i] = starlarkstruct.FromStringDict(starlark.String("statement"), starlark.StringDict{
				"verb": starlark.String(st.Verb), "tables": policy.StringTuple(st.Tables),
				"functions": policy.StringTuple(st.Functions), "text": starlark.String(st.Text)})
		}
		return out, nil
	case "verbs":
		return policy.StringTuple(q.Verbs), nil
	case "tables":
		return policy.StringTuple(q.Tables), nil
	case "functions":
		return policy.StringTuple(q.Functions), nil
	case "writes":
		return starlark.Bool(q.Writes), nil
	case "settings":
		return policy.StringDict(q.Settings), nil
	case "format":
		return starlark.String(q.Format), nil
	case "database":
		return starlark.String(q.Database), nil
	case "params":
		return policy.StringDict(q.QueryParams), nil
	case "session_id":
		return starlark.String(q.SessionID), nil
	case "insert_data":
		return starlark.Bool(q.InsertData), nil
	}
	return nil, nil
}

// AttrNames lists the facts.
func (q *Query) AttrNames() []string { return queryAttrs }

// Summary is the query on one line, shortened.
func (q *Query) Summary() string {
	s := strings.Join(strings.Fields(q.SQL), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// String renders the summary.
func (q *Query) String() string { return q.Summary() }

// Type is "clickhouse_query".
func (q *Query) Type() string { return "clickhouse_query" }

// Freeze is a no-op: facts are read-only.
func (q *Query) Freeze() {}

// Truth is always true.
func (q *Query) Truth() starlark.Bool { return true }

// Hash refuses: facts are not dict keys.
func (q *Query) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: clickhouse_query") }

// factsJSON is how a Query is stored in the audit log and golden files.
type factsJSON struct {
	Method     string            `json:"method"`
	SQL        string            `json:"sql"`
	Statements []Statement       `json:"statements"`
	Verbs      []string          `json:"verbs"`
	Tables     []string          `json:"tables,omitempty"`
	Functions  []string          `json:"functions,omitempty"`
	Writes     bool              `json:"writes"`
	Settings   map[string]string `json:"settings,omitempty"`
	Format     string            `json:"format,omitempty"`
	Database   string            `json:"database,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	SessionID  string            `json:"session_id,omitempty"`
	InsertData bool              `json:"insert_data,omitempty"`
}

// MarshalJSON encodes the facts for the audit log.
func (q *Query) MarshalJSON() ([]byte, error) {
	return json.Marshal(factsJSON{Method: q.Method, SQL: q.SQL, Statements: q.Statements, Verbs: q.Verbs,
		Tables: q.Tables, Functions: q.Functions, Writes: q.Writes, Settings: q.Settings, Format: q.Format,
		Database: q.Database, Params: q.QueryParams, SessionID: q.SessionID, InsertData: q.InsertData})
}

// Raw is a ClickHouse request as recorded for replay by `ward test`: the
// endpoint, the request line without the agent's credentials, the headers
// the decoder reads, and the query up to the data of an INSERT (rows in
// the Values format are kept: they are parsed). InsertData records that
// other rows followed; they are not kept, and replay stands a placeholder
// row in for them.
type Raw struct {
	Endpoint   string              `json:"endpoint"`
	Method     string              `json:"method"`
	Target     string              `json:"target"`
	Headers    map[string][]string `json:"headers,omitempty"`
	Body       string              `json:"body,omitempty"`
	InsertData bool                `json:"insert_data,omitempty"`
}

// dataPlaceholder stands in for INSERT rows that were not recorded.
const dataPlaceholder = "\n(rows not recorded)\n"

// Input turns a recorded request back into decoder input.
func (raw *Raw) Input() *Input {
	h := make(http.Header, len(raw.Headers))
	for k, v := range raw.Headers {
		h[http.CanonicalHeaderKey(k)] = v
	}
	body := raw.Body
	if raw.InsertData {
		body += dataPlaceholder
	}
	return &Input{Method: raw.Method, Target: raw.Target, Header: h, Body: []byte(body)}
}

// Raw returns the request as recorded for fixtures.
func (q *Query) Raw(endpoint string) *Raw {
	params := url.Values{}
	for k, v := range q.Params {
		params[k] = v
	}
	raw := &Raw{Endpoint: endpoint, Method: q.Method, Target: "/", Headers: q.Header}
	sql := q.SQL
	if q.InsertData && q.valuesSQL == "" {
		raw.InsertData = true
	}
	if q.fromBody || !q.fromParam {
		// Replay the query from the body: the same text reaches the parser.
		params.Del("query")
		raw.Body = sql
	} else {
		params.Set("query", sql)
	}
	if len(params) > 0 {
		raw.Target = "/?" + params.Encode()
	}
	if len(raw.Headers) == 0 {
		raw.Headers = nil
	}
	return raw
}
