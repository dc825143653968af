package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const kubeconfigPolicy = `
kubernetes(
    name = "prod",
    server = "https://10.0.0.1:6443",
    credential = bearer(secrets.env("K8S_TOKEN")),
    namespace = "apps",
    port = 16443,
    on_request = lambda req: allow(),
)
kubernetes(
    name = "dev",
    server = "https://10.0.0.2:6443",
    port = 0,
    on_request = lambda req: allow(),
)
`

func TestKubeconfigCommand(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "ward.star")
	if err := os.WriteFile(config, []byte(kubeconfigPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	t.Setenv("K8S_TOKEN", "canary-kubeconfig-token")
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "kubeconfig")
	if code := run(context.Background(), []string{"kubeconfig", "--config", config, "--state-dir", state, "-o", out, "prod"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// ward check names the endpoint's credential as the policy does.
	if code, out, errb := runIn("check", "--config", config); code != 0 || !strings.Contains(out, "  credential: bearer(<secret env:K8S_TOKEN>)") {
		t.Errorf("ward check: exit %d:\n%s%s", code, out, errb)
	}
	// Flags may follow the name too, as docs/kubernetes.md writes it.
	out2 := filepath.Join(dir, "kubeconfig2")
	if code := run(context.Background(), []string{"kubeconfig", "--config", config, "--state-dir", state, "prod", "-o", out2}, &stdout, &stderr); code != 0 {
		t.Fatalf("ward kubeconfig prod -o FILE: exit %d: %s", code, stderr.String())
	}
	if data2, err := os.ReadFile(out2); err != nil || !bytes.Equal(data, data2) {
		t.Errorf("ward kubeconfig prod -o FILE wrote something else (%v)", err)
	}
	if strings.Contains(string(data), "canary-kubeconfig-token") {
		t.Fatal("the kubeconfig holds the endpoint's credential")
	}
	var cfg struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
				CA     string `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Contexts []struct {
			Name    string `json:"name"`
			Context struct {
				Namespace string `json:"namespace"`
			} `json:"context"`
		} `json:"contexts"`
		Current string `json:"current-context"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("kubeconfig is not YAML: %v\n%s", err, data)
	}
	caPEM, err := os.ReadFile(filepath.Join(state, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Clusters) != 1 || cfg.Clusters[0].Cluster.Server != "https://127.0.0.1:16443" ||
		cfg.Clusters[0].Cluster.CA != base64.StdEncoding.EncodeToString(caPEM) || cfg.Current != "prod" ||
		cfg.Contexts[0].Context.Namespace != "apps" {
		t.Errorf("kubeconfig = %+v\n%s", cfg, data)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dev"}, "pass --server"},
		{[]string{"nope"}, `declares no kubernetes endpoint "nope"`},
		{[]string{"--server", "https://ward.tailnet:443", "dev"}, ""},
	} {
		stdout.Reset()
		stderr.Reset()
		code := run(context.Background(), append([]string{"kubeconfig", "--config", config, "--state-dir", state}, tc.args...), &stdout, &stderr)
		if tc.want == "" {
			if code != 0 || !strings.Contains(stdout.String(), "server: https://ward.tailnet:443") {
				t.Errorf("%v: exit %d, %s%s", tc.args, code, stdout.String(), stderr.String())
			}
			continue
		}
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
