package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/wardproject/ward/protocols/kubernetes/kubetest"
)

const kubePolicy = `
agent(name = "bot", password = secrets.env("BOT_PW"))

def check_k8s(req):
    return allow("k8s by " + req.agent.name)

kubernetes(name = "prod", server = "KUBE_SERVER", port = 0, namespace = "apps",
           ca = secrets.file("KUBE_CA"), credential = bearer(secrets.env("K8S_TOKEN")), on_request = check_k8s)
http(name = "api", hosts = ["UPSTREAM"], ca = secrets.file("CA_FILE"), on_request = check_k8s)
`

func TestRunKubectlAsDeclaredAgent(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kubectl is not installed; CI must install it")
		}
		t.Skip("kubectl is not installed (CI installs it and fails here instead of skipping)")
	}
	api := kubetest.New(t)
	dir := t.TempDir()
	policyText := strings.NewReplacer("KUBE_SERVER", api.URL, "KUBE_CA", api.WriteCA(t, dir)).Replace(kubePolicy)
	h := startRunHarness(t, policyText, map[string]string{"BOT_PW": "bot-password-1", "K8S_TOKEN": "k8s-real-token"})
	h.env = append(h.env, "BOT_PW=bot-password-1", "K8S_TOKEN=k8s-real-token")

	code, out, errb := h.run("run", "--state-dir", h.state, "--agent", "bot", "--", "kubectl", "get", "pods")
	if code != 0 || !strings.Contains(out, "web-0") {
		t.Fatalf("kubectl get pods through ward run: exit %d\n%s\n%s", code, out, errb)
	}
	if !strings.Contains(errb, "removed K8S_TOKEN") {
		t.Errorf("ward run did not remove the cluster token: %s", errb)
	}
	got := api.Received()
	if len(got) == 0 || got[len(got)-1].Header.Get("Authorization") != "Bearer k8s-real-token" ||
		!strings.Contains(got[len(got)-1].Target, "/namespaces/apps/pods") {
		t.Fatalf("API server saw %+v", got)
	}
	recs := records(t, h.gw, h.state)
	if len(recs) == 0 || recs[len(recs)-1].Agent.Name != "bot" || recs[len(recs)-1].Reason != "k8s by bot" {
		t.Fatalf("audit = %+v", recs)
	}
	// The kubeconfig holds the agent's ward password, never the cluster's token.
	_, env, _ := h.run("run", "--state-dir", h.state, "--agent", "bot", "--print-env")
	cfg := string(readExported(t, env, "KUBECONFIG"))
	if !strings.Contains(cfg, "bot-password-1") || strings.Contains(cfg, "k8s-real-token") || !strings.Contains(cfg, "namespace: apps") {
		t.Errorf("kubeconfig:\n%s", cfg)
	}
}

func needPsql(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("psql is not installed; CI must install it")
		}
		t.Skip("psql is not installed (CI installs it and fails here instead of skipping)")
	}
}

func TestRunPsqlWithoutAPassword(t *testing.T) {
	needPsql(t)
	db := newPGDB(t)
	policyText := "def sql_hook(q):\n    return allow(\"sql by \" + q.agent.name)\n" + db.endpoint(0, "sql_hook", "disable")
	h := startRunHarness(t, policyText, map[string]string{"DB_PASSWORD": db.Password})
	// The agent's shell has the real password, as a developer's would.
	h.env = append(h.env, "PGPASSWORD="+db.Password, "DB_PASSWORD="+db.Password)

	code, out, errb := h.run("run", "--state-dir", h.state, "--", "psql", "-XAtc", "select current_user, current_database()")
	if code != 0 || strings.TrimSpace(out) != db.Role+"|"+db.Name {
		t.Fatalf("psql through ward run: exit %d\nstdout %s\nstderr %s", code, out, errb)
	}
	for _, report := range []string{
		"removed PGPASSWORD from the agent's environment (",
		"removed DB_PASSWORD from the agent's environment (the gateway's secret <secret env:DB_PASSWORD>)",
	} {
		if !strings.Contains(errb, report) {
			t.Errorf("ward run did not say %q:\n%s", report, errb)
		}
	}
	code, out, _ = h.run("run", "--state-dir", h.state, "-q", "--", "sh", "-c", `echo "${PGPASSWORD-unset} ${DB_PASSWORD-unset} $PGHOST $PGUSER $PGDATABASE $PGSSLMODE"`)
	if want := "unset unset 127.0.0.1 " + db.Role + " " + db.Name + " verify-full\n"; code != 0 || out != want {
		t.Errorf("agent environment: %q, want %q", out, want)
	}
	recs := records(t, h.gw, h.state)
	if len(recs) != 1 || recs[0].Endpoint != "db" || recs[0].Agent.Name != "local" || recs[0].Reason != "sql by local" {
		t.Fatalf("audit = %+v", recs)
	}
}

func TestRunPsqlAsDeclaredAgentOverTLS(t *testing.T) {
	needPsql(t)
	db := newPGDB(t)
	policyText := `agent(name = "bot", password = secrets.env("BOT_PW"))
def sql_hook(q):
    return allow("sql by " + q.agent.name)
` + db.endpoint(0, "sql_hook", "disable")
	h := startRunHarness(t, policyText, map[string]string{"DB_PASSWORD": db.Password, "BOT_PW": "bot-password-1"})
	h.env = append(h.env, "BOT_PW=bot-password-1")

	// verify-full against the gateway CA (PGSSLROOTCERT), the agent's ward
	// password in PGPASSWORD.
	code, out, errb := h.run("run", "--state-dir", h.state, "--agent", "bot", "--", "psql", "-XAtc", "select 1")
	if code != 0 || strings.TrimSpace(out) != "1" {
		t.Fatalf("psql as bot: exit %d\n%s\n%s", code, out, errb)
	}
	_, env, _ := h.run("run", "--state-dir", h.state, "--agent", "bot", "--print-env")
	for _, want := range []string{"export PGSSLMODE='verify-full'", "export PGSSLROOTCERT=", "export PGPASSWORD='bot-password-1'"} {
		if !strings.Contains(env, want) {
			t.Errorf("--print-env lacks %s", want)
		}
	}
	// Without the agent's password, or with the database's, the gateway
	// refuses the login.
	port := strings.TrimSpace(strings.SplitN(strings.SplitN(env, "export PGPORT='", 2)[1], "'", 2)[0])
	for _, pw := range []string{"", db.Password} {
		cmd := exec.Command("psql", "-XAtc", "select 1", "-w")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PGHOST=127.0.0.1", "PGPORT=" + port, "PGUSER=" + db.Role,
			"PGDATABASE=" + db.Name, "PGSSLMODE=require", "PGPASSWORD=" + pw}
		out, err := cmd.CombinedOutput()
		if err == nil || (!strings.Contains(string(out), "password") && !strings.Contains(string(out), "agent")) {
			t.Errorf("password %q: psql %v: %s", pw, err, out)
		}
	}
	recs := records(t, h.gw, h.state)
	if len(recs) != 1 || recs[0].Agent.Name != "bot" {
		t.Fatalf("audit = %+v", recs)
	}
}
