package builtins

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/textproto"

	"go.starlark.net/starlark"
)

// Injection says how the gateway puts a credential on an allowed request:
// in Authorization as a bearer token or basic credentials, or in a header of
// the operator's choosing. Whatever the agent sent in that header is removed
// before the hook sees the request.
type Injection struct {
	Kind   string // "bearer", "basic" or "header"
	Header string // canonical header name the credential goes in
	User   string // basic only
	Secret *Secret
}

// Bearer is the builtin bearer.
//
//	def bearer(secret):   # Authorization: Bearer <secret>
var Bearer = starlark.NewBuiltin("bearer", newBearer)

// Basic is the builtin basic.
//
//	def basic(user, secret):   # Authorization: Basic base64(user:secret)
var Basic = starlark.NewBuiltin("basic", newBasic)

// Header is the builtin header.
//
//	def header(name, secret):   # <name>: <secret>
var Header = starlark.NewBuiltin("header", newHeader)

func newBearer(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s *Secret
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "secret", &s); err != nil {
		return nil, err
	}
	return &Injection{Kind: "bearer", Header: "Authorization", Secret: s}, nil
}

func newBasic(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var user string
	var s *Secret
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "user", &user, "secret", &s); err != nil {
		return nil, err
	}
	return &Injection{Kind: "basic", Header: "Authorization", User: user, Secret: s}, nil
}

func newHeader(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var s *Secret
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "secret", &s); err != nil {
		return nil, err
	}
	if !validHeaderName(name) {
		return nil, fmt.Errorf("%s: %q is not a valid header name", b.Name(), name)
	}
	canon := textproto.CanonicalMIMEHeaderKey(name)
	switch canon {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Proxy-Authorization":
		return nil, fmt.Errorf("%s: cannot inject a credential into %s", b.Name(), canon)
	}
	return &Injection{Kind: "header", Header: canon, Secret: s}, nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		// RFC 9110 token characters.
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~') {
			return false
		}
	}
	return true
}

// Value is the header value that carries the resolved secret.
func (i *Injection) Value(secret []byte) string {
	switch i.Kind {
	case "bearer":
		return "Bearer " + string(secret)
	case "basic":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(i.User+":"+string(secret)))
	}
	return string(secret)
}

// Forms returns the byte strings that reveal the credential: the secret
// itself and, for basic, its base64 encoding with the user. Responses and
// logs are scrubbed of every one.
func (i *Injection) Forms(secret []byte) [][]byte {
	forms := [][]byte{secret}
	if i.Kind == "basic" {
		forms = append(forms, []byte(base64.StdEncoding.EncodeToString([]byte(i.User+":"+string(secret)))))
	}
	return forms
}

// Apply sets the credential on h, replacing anything already there.
func (i *Injection) Apply(h http.Header, secret []byte) {
	h[i.Header] = []string{i.Value(secret)}
}

// String renders the injection without the secret's value.
func (i *Injection) String() string {
	switch i.Kind {
	case "basic":
		return fmt.Sprintf("basic(%q, %s)", i.User, i.Secret)
	case "header":
		return fmt.Sprintf("header(%q, %s)", i.Header, i.Secret)
	}
	return fmt.Sprintf("bearer(%s)", i.Secret)
}

// Type is "injection".
func (i *Injection) Type() string { return "injection" }

// Freeze is a no-op: injections are immutable.
func (i *Injection) Freeze() {}

// Truth is always true.
func (i *Injection) Truth() starlark.Bool { return true }

// Hash refuses: injections are not dict keys.
func (i *Injection) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: injection") }

var _ starlark.Value = (*Injection)(nil)
