package httpproxy

import (
	"bytes"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/wardproject/ward/protocols/httprelay"
)

// methodOverrides are headers with which some frameworks let a request
// claim a method other than the one on its request line.
var methodOverrides = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// methodParam is the query or form parameter with which Rails, Laravel,
// Symfony and Express's method-override turn a POST into another method.
const methodParam = "_method"

// checkOverrides refuses a request that claims, in a header, a query
// parameter or a form field, a method other than the one on its request
// line. Every value counts: servers differ on which of several they read.
func checkOverrides(in *Input, header http.Header, query url.Values) error {
	for _, name := range methodOverrides {
		for _, v := range header.Values(name) {
			if v != in.Method {
				return refuse("header %s asks for method %q on a %s request", name, v, in.Method)
			}
		}
	}
	if err := checkMethodParam("query parameter", query[methodParam], in.Method); err != nil {
		return err
	}
	mediaType, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	switch {
	case mediaType == "application/x-www-form-urlencoded":
		if in.BodyTruncated {
			return refuse("form body longer than body_limit: a %s field past the limit could change the method unseen", methodParam)
		}
		form, _ := url.ParseQuery(string(in.Body)) // servers read what they can
		return checkMethodParam("form field", form[methodParam], in.Method)
	case strings.HasPrefix(mediaType, "multipart/"):
		if bytes.Contains(bytes.ToLower(in.Body), []byte(`name="`+methodParam+`"`)) {
			return refuse("multipart field %s may ask for another method than %s", methodParam, in.Method)
		}
	}
	return nil
}

func checkMethodParam(where string, values []string, method string) error {
	for _, v := range values {
		if strings.ToUpper(strings.TrimSpace(v)) != method {
			return refuse("%s %s asks for method %q on a %s request", where, methodParam, v, method)
		}
	}
	return nil
}

// checkEncoding refuses a request body the hook cannot read but the
// upstream can: one with a Content-Encoding (gzip, say) that the upstream
// decompresses after the policy saw only compressed bytes.
func checkEncoding(in *Input, header http.Header) error {
	if len(in.Body) == 0 {
		return nil
	}
	for _, v := range header.Values("Content-Encoding") {
		for _, coding := range strings.Split(v, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				return refuse("request body with Content-Encoding %q: the policy cannot read a compressed body; send it uncompressed", c)
			}
		}
	}
	return nil
}

// checkUpgrade refuses a protocol upgrade other than WebSocket. After an
// upgrade the connection is relayed unparsed, so an upgrade to h2c would
// let every later request on it bypass the policy.
func checkUpgrade(header http.Header) error {
	if !httprelay.IsUpgrade(header) {
		return nil
	}
	for _, v := range header.Values("Upgrade") {
		for _, proto := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(proto), "/")
			if !strings.EqualFold(name, "websocket") {
				return refuse("upgrade to %q: only WebSocket upgrades are relayed", strings.TrimSpace(proto))
			}
		}
	}
	return nil
}

// checkHeaderNames refuses header names with '_': CGI-style servers (PHP,
// Rack, WSGI) turn '-' and '_' alike into '_', so "X_HTTP_Method_Override"
// or "X_Api_Key" would act there as the header the policy checks for, or
// as the credential slot the gateway fills, while the hook saw neither.
func checkHeaderNames(header http.Header) error {
	for name := range header {
		if strings.Contains(name, "_") {
			return refuse("header name %q contains '_': some servers read it as %q", name, strings.ReplaceAll(name, "_", "-"))
		}
	}
	return nil
}
