package postgres_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/proxy/gateway/gatewaytest"
	"github.com/wardproject/ward/starlark/policytest"
)

// TestWardGatewayBinaryWithPsql runs the built `ward gateway` and psql
// against it: a read passes, a DROP is denied and changes nothing, and the
// denied action exported with `ward fixture` replays under `ward test`.
func TestWardGatewayBinaryWithPsql(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ward binary; skipped with -short")
	}
	db := newDB(t, "scram")
	db.exec(t, "CREATE TABLE orders (id int, total int); INSERT INTO orders VALUES (1, 10)")
	dir := t.TempDir()
	bin := filepath.Join(dir, "ward")
	build := exec.Command("go", "build", "-o", bin, "github.com/wardproject/ward/cmd/ward")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	policy := strings.NewReplacer("DB_NAME", db.Name, "DB_ROLE", db.Role).Replace(basePolicy +
		`postgres(name = "db", port = 0, upstream = "127.0.0.1:5432", database = "DB_NAME",
         user = "DB_ROLE", password = secrets.env("WARD_TEST_DB_PASSWORD"), tls = "disable", on_query = check)`)
	if err := os.WriteFile(filepath.Join(dir, "ward.star"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "gateway", "--config", filepath.Join(dir, "ward.star"),
		"--state-dir", filepath.Join(dir, "state"), "--proxy-port", "0")
	cmd.Env = append(os.Environ(), "WARD_TEST_DB_PASSWORD="+db.Password)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrRE := regexp.MustCompile(`endpoint listening.*endpoint=db.*addr=(\S+)`)
	found := make(chan string, 1)
	var logs gatewaytest.LogBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write([]byte(sc.Text() + "\n"))
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var addr string
	select {
	case addr = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("ward gateway did not start:\n%s", logs.String())
	}
	g := &gw{t: t, dir: dir, addr: addr, db: db, logs: &logs}
	if out := g.psql("-At", "-c", "SELECT total FROM orders WHERE id = 1"); strings.TrimSpace(out) != "10" {
		t.Fatalf("read through ward gateway: %q\n%s", out, logs.String())
	}
	if out := g.psql("-c", "DROP TABLE orders"); !strings.Contains(out, "ward: denied: schema changes land via migration PR") {
		t.Fatalf("DROP through ward gateway: %q", out)
	}
	cancel()
	cmd.Wait()
	if strings.Contains(logs.String(), db.Password) {
		t.Error("the gateway log contains the database password")
	}
	var n int
	if err := db.owner(t).QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 1 {
		t.Fatalf("orders after the denied DROP: %d, %v", n, err)
	}

	// ward fixture → ward test: the recorded denial replays.
	store, err := audit.OpenSQLiteReadOnly(filepath.Join(dir, "state", "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := store.List(context.Background(), audit.Filter{Limit: 100})
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, r := range recs {
		if r.Verdict == "deny" {
			id = r.ID
		}
	}
	if id == "" {
		t.Fatalf("no denial recorded: %+v", recs)
	}
	out, err := exec.Command(bin, "fixture", "--state-dir", filepath.Join(dir, "state"), id).Output()
	if err != nil {
		t.Fatalf("ward fixture %s: %v", id, err)
	}
	var f policytest.Fixture
	if err := json.Unmarshal(out, &f); err != nil || f.Protocol != "postgres" {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	fx := filepath.Join(dir, "drop.fixture.json")
	os.WriteFile(fx, out, 0o600)
	r := &policytest.Runner{Protocols: gateway.Protocols(), Config: filepath.Join(dir, "ward.star"), Out: &logs}
	sum, err := r.Run(context.Background(), []string{fx})
	if err != nil || !sum.OK() {
		t.Fatalf("replaying the fixture: %v %+v\n%s", err, sum, logs.String())
	}
}

// TestExamplePolicy runs examples/postgres's own tests and fixtures.
func TestExamplePolicy(t *testing.T) {
	files, err := policytest.Discover([]string{"../../examples/postgres"})
	if err != nil || len(files) == 0 {
		t.Fatalf("discover: %v %v", files, err)
	}
	var out gatewaytest.LogBuffer
	r := &policytest.Runner{Protocols: gateway.Protocols(), Out: &out}
	sum, err := r.Run(context.Background(), files)
	if err != nil || !sum.OK() {
		t.Fatalf("examples/postgres tests: %v\n%s", err, out.String())
	}
}
