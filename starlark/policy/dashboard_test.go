package policy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDashboardDeclarations(t *testing.T) {
	p, err := Load(write(t, map[string]string{"ward.star": `
gateway(dashboard_port = 8081, dashboard_viewers = ["carol@example.com", "tag:oncall"])
dba = dashboard.approver(approvers = ["alice@example.com", "tag:dba"], timeout = "15m", name = "dba")
ops = dashboard.approver()
`}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Gateway.DashboardPort != 8081 || !slices.Equal(p.Gateway.DashboardViewers, []string{"carol@example.com", "tag:oncall"}) {
		t.Errorf("gateway = %+v", p.Gateway)
	}
	if len(p.Judges) != 2 {
		t.Fatalf("judges = %+v", p.Judges)
	}
	dba, ops := p.Judges[0], p.Judges[1]
	if dba.Kind != "dashboard" || dba.Name != "dashboard:dba" || dba.Timeout != 15*time.Minute ||
		!slices.Equal(dba.Dashboard.Approvers, []string{"alice@example.com", "tag:dba"}) {
		t.Errorf("dba = %+v %+v", dba, dba.Dashboard)
	}
	if ops.Name != "dashboard" || ops.Timeout != 10*time.Minute || len(ops.Dashboard.Approvers) != 0 {
		t.Errorf("ops = %+v", ops)
	}
}

func TestDashboardDeclarationErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"viewer is not a login", `gateway(dashboard_viewers = ["alice"])`, `"alice" is neither a tailnet login name`},
		{"viewer with a comma", `gateway(dashboard_viewers = ["a@b,c@d"])`, "neither a tailnet login name"},
		{"bad tag", `gateway(dashboard_viewers = ["tag:"])`, `"tag:" is not a tag`},
		{"viewers not strings", `gateway(dashboard_viewers = [1])`, "dashboard_viewers[0] must be a string"},
		{"approver is not a login", `dashboard.approver(approvers = ["U012ABC"])`, "dashboard.approver: approvers:"},
		{"approvers not a list", `dashboard.approver(approvers = "alice@example.com")`, "approvers must be a list of strings"},
		{"bad name", `dashboard.approver(name = "Ops Team")`, "name must be lowercase"},
		{"bad timeout", `dashboard.approver(timeout = "soon")`, "timeout"},
		{"two without names", "a = dashboard.approver()\nb = dashboard.approver()", `dashboard.approver "dashboard" is declared at`},
		{"two with one name", "a = dashboard.approver(name = \"x\")\nb = dashboard.approver(name = \"x\")", "give each a distinct name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, map[string]string{"ward.star": tt.src}), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDashboardApproverCannotBeDeclaredInAHook(t *testing.T) {
	p, hook := loadHook(t, "def check(a):\n    return dashboard.approver().ask(a)\n", "check")
	r := p.Call(context.Background(), hook, testAction())
	if r.Err == nil || !strings.Contains(r.Err.Error(), "only be called while the policy loads") {
		t.Fatalf("result %+v", r)
	}
}
