package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardproject/ward/proxy/gateway/gatewaytest"
)

// wardBin is the ward binary built once for the end-to-end tests.
var wardBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ward-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wardBin = filepath.Join(dir, "ward")
	build := exec.Command("go", "build", "-o", wardBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ward:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ward runs the binary to completion.
func ward(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(wardBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// gatewayProc is a running `ward gateway`.
type gatewayProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	stdout *gatewaytest.LogBuffer
	stderr *gatewaytest.LogBuffer
	done   chan struct{}
}

// startGateway runs `ward gateway` on a free port and waits until it listens.
func startGateway(t *testing.T, env []string, args ...string) *gatewayProc {
	t.Helper()
	cmd := exec.Command(wardBin, append([]string{"gateway", "--proxy-port", "0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{t: t, cmd: cmd, stdout: &gatewaytest.LogBuffer{}, stderr: &gatewaytest.LogBuffer{}, done: make(chan struct{})}
	cmd.Stderr = g.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(g.stdout, sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(g.done) }()
	t.Cleanup(g.stop)
	select {
	case line := <-lines:
		// "ward: proxy listening on 127.0.0.1:PORT (...)"
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("unexpected first line %q", line)
		}
		g.addr = f[4]
	case <-g.done:
		t.Fatalf("gateway exited: %s", g.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("gateway did not start: %s", g.stderr)
	}
	return g
}

// printed waits for a line of standard output that starts with prefix
// and returns the rest of it.
func (g *gatewayProc) printed(prefix string) string {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(g.stdout.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return rest
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.t.Fatalf("the gateway did not print %q; stdout:\n%s", prefix, g.stdout)
	return ""
}

// stop ends the gateway with SIGTERM and checks it exits cleanly.
func (g *gatewayProc) stop() {
	select {
	case <-g.done:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
		if code := g.cmd.ProcessState.ExitCode(); code != 0 {
			g.t.Errorf("gateway exited %d: %s", code, g.stderr)
		}
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		g.t.Errorf("gateway did not stop on SIGTERM")
	}
}

// curl runs curl with the given arguments and returns its output.
func curl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed; .ci/run must install it")
		}
		t.Skip("curl is not installed (CI installs it)")
	}
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "20"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}
