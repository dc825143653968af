package builtins

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
)

// unpackDuration reads "10s"-style strings, time.duration values, or
// seconds, and refuses anything not positive.
func unpackDuration(v starlark.Value) (time.Duration, error) {
	var d time.Duration
	switch v := v.(type) {
	case starlark.String:
		parsed, err := time.ParseDuration(string(v))
		if err != nil {
			return 0, fmt.Errorf("bad duration %s: use a string like \"500ms\", \"20s\" or \"10m\"", v)
		}
		d = parsed
	case startime.Duration:
		d = time.Duration(v)
	case starlark.Int:
		secs, ok := v.Int64()
		if !ok {
			return 0, fmt.Errorf("duration %s out of range", v)
		}
		d = time.Duration(secs) * time.Second
	default:
		return 0, fmt.Errorf("got %s, want a duration such as \"20s\"", v.Type())
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %s must be positive", v)
	}
	return d, nil
}

// durationArg is an optional duration argument with a default.
type durationArg struct {
	d   time.Duration
	set bool
}

// Unpack implements starlark.Unpacker.
func (a *durationArg) Unpack(v starlark.Value) error {
	d, err := unpackDuration(v)
	if err != nil {
		return err
	}
	a.d, a.set = d, true
	return nil
}

func (a durationArg) or(dflt time.Duration) time.Duration {
	if a.set {
		return a.d
	}
	return dflt
}

// checkURL accepts an absolute http(s) URL.
func checkURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return u, nil
}

// displayURL is u without credentials, query or fragment: safe to show in
// verdicts and logs.
func displayURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return strings.TrimSuffix(c.String(), "?")
}

// stringList unpacks a list or tuple of strings.
func stringListArg(name string, v starlark.Value) ([]string, error) {
	it, ok := v.(starlark.Iterable)
	if !ok || v.Type() == "string" {
		return nil, fmt.Errorf("%s must be a list of strings, got %s", name, v.Type())
	}
	var out []string
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of strings, got an element of type %s", name, x.Type())
		}
		out = append(out, s)
	}
	return out, nil
}
