package builtins

import (
	"fmt"
	"regexp"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// DashboardSpec is what dashboard.approver declares.
type DashboardSpec struct {
	// Approvers are the tailnet logins and tags who may decide, on a
	// tailnet dashboard. Locally, the holder of the dashboard's token
	// decides.
	Approvers []string
}

var dashboardName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// Dashboard is the dashboard module.
//
//	def dashboard.approver(approvers = [], timeout = "10m", name = None):
//
// dashboard.approver declares a judge that holds each action it is asked
// about in the gateway's approval queue until someone decides it in the
// web dashboard (gateway(dashboard_port = ...)): on a tailnet, one of
// approvers (login names such as "alice@example.com", or tags such as
// "tag:ops"); locally, whoever holds the token the gateway printed.
// `ward approve` / `ward deny` decide the same queue; the first decision
// wins. No decision within timeout is a denial. name tells several
// dashboard approvers apart (the judge is "dashboard:<name>"; without a
// name, "dashboard").
var Dashboard = &starlarkstruct.Module{
	Name:    "dashboard",
	Members: starlark.StringDict{"approver": starlark.NewBuiltin("dashboard.approver", newDashboardApprover)},
}

func newDashboardApprover(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		approvers starlark.Value = starlark.NewList(nil)
		timeout   durationArg
		name      starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "approvers?", &approvers, "timeout?", &timeout, "name?", &name); err != nil {
		return nil, err
	}
	list, err := stringListArg("approvers", approvers)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	for _, p := range list {
		if err := CheckPrincipal(p); err != nil {
			return nil, fmt.Errorf("%s: approvers: %v", b.Name(), err)
		}
	}
	judgeName := "dashboard"
	if name != starlark.None {
		n, ok := starlark.AsString(name)
		if !ok || !dashboardName.MatchString(n) {
			return nil, fmt.Errorf("%s: name must be lowercase letters, digits, '_', '-' or '.', got %s", b.Name(), name)
		}
		judgeName += ":" + n
	}
	j := &Judge{Kind: "dashboard", Name: judgeName, Timeout: timeout.or(DefaultApprovalTimeout), Dashboard: &DashboardSpec{Approvers: list}}
	return declareJudge(thread, b, j)
}
