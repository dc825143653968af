package httprelay

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// RefusedError is a request that ward will not decide on because servers
// could read it in more than one way, or because it is malformed. The agent
// gets the reason.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// Refuse returns a RefusedError with a formatted reason.
func Refuse(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// CheckTarget parses an origin-form request-target and refuses paths that
// servers resolve differently: dot segments, encoded or literal
// separators (also encoded twice), empty segments, path parameters,
// fragments and control characters.
func CheckTarget(target string) (*url.URL, error) {
	if !strings.HasPrefix(target, "/") {
		return nil, Refuse("request target %q is not an absolute path", target)
	}
	if strings.Contains(target, "#") {
		return nil, Refuse("request target contains a fragment")
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, Refuse("malformed request target: %v", err)
	}
	rawPath, _, _ := strings.Cut(target, "?")
	lower := strings.ToLower(rawPath)
	switch {
	case strings.Contains(lower, "%2f"), strings.Contains(lower, "%5c"), strings.Contains(rawPath, `\`):
		return nil, Refuse("ambiguous path %q: encoded '/' or a backslash", rawPath)
	case strings.Contains(rawPath, ";"):
		return nil, Refuse("ambiguous path %q: ';' path parameters are read differently by different servers", rawPath)
	case strings.Contains(u.Path, "//"):
		return nil, Refuse("ambiguous path %q: empty segment", rawPath)
	case containsFold(u.Path, "%2e"), containsFold(u.Path, "%2f"), containsFold(u.Path, "%5c"):
		// A server (or a proxy in front of it) that decodes twice reads
		// "%252e%252e" as a dot segment and "%252f" as a separator.
		return nil, Refuse("ambiguous path %q: '.', '/' or '\\' encoded twice", rawPath)
	case !utf8.ValidString(u.Path):
		return nil, Refuse("ambiguous path %q: not UTF-8 once decoded", rawPath)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return nil, Refuse("ambiguous path %q: dot segment", rawPath)
		}
	}
	for _, r := range u.Path {
		if r < 0x20 || r == 0x7f {
			return nil, Refuse("path contains control characters")
		}
	}
	return u, nil
}

func containsFold(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }

// CheckQuery parses a raw query string and refuses one that servers could
// read differently: malformed escapes, and (when unique) a parameter given
// more than once, which some servers read as its first value and others as
// its last.
func CheckQuery(raw string, unique bool) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, Refuse("malformed query string: %v", err)
	}
	if unique {
		for k, v := range q {
			if len(v) > 1 {
				return nil, Refuse("query parameter %q is given %d times", k, len(v))
			}
		}
	}
	return q, nil
}
