package builtins

import (
	"fmt"
	"regexp"
	"strings"
)

var dashboardTag = regexp.MustCompile(`^tag:[a-zA-Z][a-zA-Z0-9-]*$`)

// CheckPrincipal checks one entry of a dashboard access list
// (gateway(dashboard_viewers = ...), dashboard.approver(approvers = ...)):
// a tailnet login name such as "alice@example.com" or "alice@github", or a
// node tag such as "tag:ops".
func CheckPrincipal(p string) error {
	if strings.HasPrefix(p, "tag:") {
		if !dashboardTag.MatchString(p) {
			return fmt.Errorf("%q is not a tag: want \"tag:name\" (letters, digits, '-')", p)
		}
		return nil
	}
	user, domain, ok := strings.Cut(p, "@")
	if !ok || user == "" || domain == "" || strings.ContainsAny(p, " \t\r\n,") || strings.Count(p, "@") != 1 {
		return fmt.Errorf("%q is neither a tailnet login name (\"alice@example.com\") nor a tag (\"tag:ops\")", p)
	}
	return nil
}
