// Package clickhouse is ward's ClickHouse endpoint: agents send queries to
// a port of the gateway as they would to ClickHouse's HTTP interface; each
// query is parsed with a ClickHouse SQL parser, decided by the endpoint's
// on_query hook, and relayed to ClickHouse with the gateway's credential.
// Denials use ClickHouse's own HTTP error format (code 497, ACCESS_DENIED).
package clickhouse

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/wardproject/ward/protocols/httprelay"
)

// Input is a request as the decoder reads it, whether it came off the wire,
// from clickhouse_query() in a test, or from a recorded fixture.
type Input = httprelay.Input

// reservedParams are URL parameters of ClickHouse's HTTP interface that
// are not settings.
var reservedParams = map[string]bool{
	"query": true, "database": true, "default_format": true, "user": true, "password": true,
	"quota_key": true, "query_id": true, "session_id": true, "session_timeout": true,
	"session_check": true, "compress": true, "decompress": true, "buffer_size": true,
	"wait_end_of_query": true, "stacktrace": true,
}

// isCredentialParam reports whether a URL parameter is one of the agent's
// credentials (user, password; ClickHouse reads parameter names in any
// case): removed before anything is recorded or forwarded.
func isCredentialParam(name string) bool {
	return strings.EqualFold(name, "user") || strings.EqualFold(name, "password")
}

// dropCredentials removes the credential parameters from params.
func dropCredentials(params url.Values) (changed bool) {
	for k := range params {
		if isCredentialParam(k) {
			delete(params, k)
			changed = true
		}
	}
	return changed
}

// RedactTarget is target without the agent's credential parameters, for
// the audit record of a request refused before it could be decoded. The
// query string is split as it is sent, so a malformed one is redacted too.
func RedactTarget(target string) string {
	path, query, ok := strings.Cut(target, "?")
	if !ok {
		return target
	}
	kept := []string{}
	for _, part := range strings.Split(query, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if !isCredentialParam(name) {
			kept = append(kept, part)
		}
	}
	return path + "?" + strings.Join(kept, "&")
}

// Decode checks in and turns it into the facts hooks see. A query that
// cannot be parsed, or that ClickHouse could read differently from the
// facts, is refused (*httprelay.RefusedError), which denies it.
func Decode(in *Input) (*Query, error) {
	if in.Method != http.MethodGet && in.Method != http.MethodPost {
		return nil, httprelay.Refuse("method %q: ClickHouse's HTTP interface takes GET and POST", in.Method)
	}
	u, err := httprelay.CheckTarget(in.Target)
	if err != nil {
		return nil, err
	}
	if u.Path != "/" {
		return nil, httprelay.Refuse("path %q: only queries to / are relayed", u.Path)
	}
	params, err := httprelay.CheckQuery(u.RawQuery, true)
	if err != nil {
		return nil, err
	}
	header := httprelay.ForwardedHeaders(in.Header)
	if err := checkEncoding(header, params); err != nil {
		return nil, err
	}
	if err := checkHeaderParams(header, params); err != nil {
		return nil, err
	}
	if httprelay.IsUpgrade(header) {
		return nil, httprelay.Refuse("upgrade to %q: ClickHouse's HTTP interface has no upgrades", header.Get("Upgrade"))
	}
	dropCredentials(params)
	q := &Query{Method: in.Method, Params: params, Header: decodedHeaders(header),
		Settings: map[string]string{}, QueryParams: map[string]string{}}
	if err := q.split(params.Get("query"), in.Body, in.BodyTruncated); err != nil {
		return nil, err
	}
	if err := checkTokens(cmp.Or(q.valuesSQL, q.head)); err != nil {
		return nil, err
	}
	a, err := analyze(q.head)
	if err != nil {
		return nil, httprelay.Refuse("%v", err)
	}
	if q.valuesSQL != "" {
		if err := q.addValues(a); err != nil {
			return nil, err
		}
	}
	if len(a.statements) == 0 {
		return nil, httprelay.Refuse("empty query")
	}
	q.facts(a, params, header)
	if d, ok := q.Settings["dialect"]; ok && !strings.EqualFold(d, "clickhouse") {
		return nil, httprelay.Refuse("dialect %q: only ClickHouse SQL is parsed", d)
	}
	return q, nil
}

// checkEncoding refuses bodies the decoder would read differently from
// ClickHouse: compressed ones, and multipart uploads of external tables.
func checkEncoding(h http.Header, params url.Values) error {
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return httprelay.Refuse("compressed request bodies (Content-Encoding %s) are not supported", ce)
	}
	if v := params.Get("decompress"); v != "" && v != "0" {
		return httprelay.Refuse("compressed request bodies (decompress=%s) are not supported", v)
	}
	// ClickHouse tests the raw value's prefix: a Content-Type that a MIME
	// parser rejects (a repeated boundary, say) is still multipart to it.
	if ct := strings.ToLower(strings.TrimSpace(h.Get("Content-Type"))); strings.HasPrefix(ct, "multipart/") {
		return httprelay.Refuse("external data (multipart bodies) is not supported")
	}
	return nil
}

// headerParams are the URL parameters that a header may also give. Newer
// ClickHouse takes the header, older versions (18.16) the parameter.
var headerParams = map[string]string{"database": "X-Clickhouse-Database", "default_format": "X-Clickhouse-Format"}

// checkHeaderParams refuses a request that gives one of headerParams both
// ways with different values: which one counts depends on the server's
// version.
func checkHeaderParams(h http.Header, params url.Values) error {
	for param, header := range headerParams {
		if v, hv := params.Get(param), h.Get(header); v != "" && hv != "" && v != hv {
			return httprelay.Refuse("%s %q and %s %q disagree (ClickHouse versions differ on which counts)", param, v, header, hv)
		}
	}
	return nil
}

// split joins the query parameter and the body as ClickHouse does (the
// parameter, a newline, the body) and separates the SQL from the inline
// data of an INSERT.
func (q *Query) split(param string, body []byte, truncated bool) error {
	text := string(body)
	if param != "" {
		text = param
		if len(body) > 0 || truncated {
			text += "\n" + string(body)
		}
	}
	q.fromParam, q.fromBody = param != "", len(body) > 0
	d, found, ok := insertData(text)
	switch {
	case !found && truncated:
		return httprelay.Refuse("the query is longer than the endpoint's body_limit")
	case !found:
		q.SQL, q.head = text, text
		return nil
	case d.values && truncated:
		return httprelay.Refuse("INSERT ... VALUES is longer than the endpoint's body_limit: raise body_limit, or send rows in a format such as TSV or JSONEachRow")
	case !ok:
		return httprelay.Refuse("cannot tokenize the query")
	}
	q.head = strings.TrimRight(text[:d.data], " \t\r\n")
	q.SQL = q.head
	rest := text[d.data:]
	q.InsertData = strings.TrimSpace(rest) != "" || truncated
	if d.values {
		// Values rows are SQL expressions ClickHouse may evaluate: they
		// are part of the sql fact, and the whole INSERT is parsed to
		// report their functions.
		q.SQL = text
		q.valuesSQL = text[:d.clause] + "VALUES" + rest
	}
	return nil
}

// addValues adds what the rows of an INSERT ... VALUES call, and any
// statement after them, to the facts.
func (q *Query) addValues(head *analysis) error {
	full, err := analyze(q.valuesSQL)
	if err != nil {
		return httprelay.Refuse("INSERT ... VALUES rows: %v", err)
	}
	first := &head.statements[0]
	for _, f := range full.statements[0].Functions {
		first.Functions = appendUnique(first.Functions, f)
	}
	slices.Sort(first.Functions)
	head.statements = append(head.statements, full.statements[1:]...)
	return nil
}

// decodedHeaders are the request headers the decoder reads.
func decodedHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for _, k := range []string{"Content-Type", "X-Clickhouse-Database", "X-Clickhouse-Format"} {
		if v, ok := h[k]; ok {
			out[k] = v
		}
	}
	return out
}

// facts fills the facts from the parse and the request's parameters.
func (q *Query) facts(a *analysis, params url.Values, h http.Header) {
	q.Statements = a.statements
	for _, st := range a.statements {
		q.Verbs = appendUnique(q.Verbs, st.Verb)
		for _, t := range st.Tables {
			q.Tables = appendUnique(q.Tables, t)
		}
		for _, f := range st.Functions {
			q.Functions = appendUnique(q.Functions, f)
		}
		q.Writes = q.Writes || writeVerbs[st.Verb]
	}
	slices.Sort(q.Tables)
	slices.Sort(q.Functions)
	for k, v := range params {
		switch {
		case strings.HasPrefix(k, "param_"):
			q.QueryParams[strings.TrimPrefix(k, "param_")] = v[0]
		case !reservedParams[k]:
			q.Settings[k] = v[0]
		}
	}
	for k, v := range a.settings {
		q.Settings[k] = v
	}
	q.Format = firstOf(a.format, params.Get("default_format"), h.Get("X-ClickHouse-Format"))
	q.Database = firstOf(params.Get("database"), h.Get("X-ClickHouse-Database"))
	q.SessionID = params.Get("session_id")
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
