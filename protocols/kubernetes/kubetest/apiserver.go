// Package kubetest is a fake Kubernetes API server for tests: HTTPS on
// 127.0.0.1, speaking enough of the real API for the real kubectl
// (discovery, namespaced pods and secrets, Table output, Status errors,
// watch, exec over WebSocket) and recording every request that reaches it,
// so a test can prove what ward forwarded and with which credential.
package kubetest

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Received is one request as the API server saw it.
type Received struct {
	Method string
	Target string // request-target as sent
	Header http.Header
	Body   string
	// ClientCert is the subject common name of the client certificate
	// presented, if any.
	ClientCert string
}

// APIServer is the fake API server.
type APIServer struct {
	*httptest.Server
	mu       sync.Mutex
	received []Received
	noRecord bool
	// Pods are the pod names in every namespace; default ["web-0"].
	Pods []string
}

// New starts a fake API server; it is closed when the test ends.
func New(t testing.TB) *APIServer {
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake API server outside a test (for benchmarks); Close
// stops it.
func Start() *APIServer {
	s := &APIServer{Pods: []string{"web-0"}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.EnableHTTP2 = true
	// Ask for (but do not require) a client certificate, so tests can see
	// which one the gateway presents.
	s.Server.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.Server.StartTLS()
	return s
}

// Received returns the requests seen so far.
func (s *APIServer) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Reset forgets the requests seen so far.
func (s *APIServer) Reset() {
	s.mu.Lock()
	s.received = nil
	s.mu.Unlock()
}

// WriteCA writes the server's certificate as PEM into dir and returns the
// file's path, for a policy's ca = secrets.file(...).
func (s *APIServer) WriteCA(t testing.TB, dir string) string {
	path := filepath.Join(dir, "cluster-ca.pem")
	if err := os.WriteFile(path, s.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// CAPEM is the server's certificate as PEM.
func (s *APIServer) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// Record turns recording of requests on or off (benchmarks turn it off).
func (s *APIServer) Record(on bool) {
	s.mu.Lock()
	s.noRecord = !on
	s.mu.Unlock()
}

func (s *APIServer) serve(w http.ResponseWriter, r *http.Request) {
	rec := Received{Method: r.Method, Target: r.RequestURI, Header: r.Header.Clone()}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		rec.ClientCert = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	if !isUpgrade(r) {
		body, _ := io.ReadAll(r.Body)
		rec.Body = string(body)
	}
	s.mu.Lock()
	if !s.noRecord {
		s.received = append(s.received, rec)
	}
	s.mu.Unlock()
	s.route(w, r)
}

func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

func (s *APIServer) route(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/api":
		writeJSON(w, 200, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []any{map[string]any{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}}})
	case r.URL.Path == "/apis":
		writeJSON(w, 200, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{}})
	case r.URL.Path == "/api/v1":
		writeJSON(w, 200, resourceList)
	case r.URL.Path == "/version":
		writeJSON(w, 200, map[string]any{"major": "1", "minor": "32", "gitVersion": "v1.32.0-kubetest", "platform": "linux/amd64"})
	case len(parts) >= 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces":
		s.namespaced(w, r, parts[3], parts[4:])
	case len(parts) == 3 && parts[0] == "api" && parts[1] == "v1":
		s.collection(w, r, "", parts[2])
	default:
		WriteStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
	}
}

// namespaced serves /api/v1/namespaces/NS/RESOURCE[/NAME[/SUB]].
func (s *APIServer) namespaced(w http.ResponseWriter, r *http.Request, ns string, rest []string) {
	resource := rest[0]
	if resource != "pods" && resource != "secrets" {
		WriteStatus(w, http.StatusNotFound, "NotFound", resource+" not found")
		return
	}
	switch {
	case len(rest) == 1:
		s.collection(w, r, ns, resource)
	case len(rest) == 2:
		s.object(w, r, ns, resource, rest[1])
	case len(rest) == 3 && resource == "pods" && rest[2] == "exec":
		s.exec(w, r)
	case len(rest) == 3 && resource == "pods" && rest[2] == "log":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "log line 1\nlog line 2\n")
	default:
		WriteStatus(w, http.StatusNotFound, "NotFound", "subresource not found")
	}
}

func (s *APIServer) collection(w http.ResponseWriter, r *http.Request, ns, resource string) {
	if r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
		s.watch(w, r, ns, resource)
		return
	}
	if r.Method != http.MethodGet {
		WriteStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "not supported by kubetest")
		return
	}
	var items []map[string]any
	if resource == "pods" {
		for _, name := range s.Pods {
			items = append(items, pod(ns, name))
		}
	} else {
		items = append(items, secret(ns, "db-password"))
	}
	if strings.Contains(r.Header.Get("Accept"), "as=Table") {
		writeJSON(w, 200, table(items))
		return
	}
	kind := "PodList"
	if resource == "secrets" {
		kind = "SecretList"
	}
	writeJSON(w, 200, map[string]any{"kind": kind, "apiVersion": "v1", "metadata": map[string]any{"resourceVersion": "1"}, "items": items})
}

func (s *APIServer) object(w http.ResponseWriter, r *http.Request, ns, resource, name string) {
	obj := pod(ns, name)
	if resource == "secrets" {
		obj = secret(ns, name)
	}
	switch r.Method {
	case http.MethodGet:
		if strings.Contains(r.Header.Get("Accept"), "as=Table") {
			writeJSON(w, 200, table([]map[string]any{obj}))
			return
		}
		writeJSON(w, 200, obj)
	case http.MethodDelete:
		writeJSON(w, 200, obj)
	default:
		WriteStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "not supported by kubetest")
	}
}

// watch streams one ADDED event per pod, then ends after a short while.
func (s *APIServer) watch(w http.ResponseWriter, r *http.Request, ns, resource string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	for _, name := range s.Pods {
		_ = enc.Encode(map[string]any{"type": "ADDED", "object": pod(ns, name)})
		if flusher != nil {
			flusher.Flush()
		}
	}
	select {
	case <-r.Context().Done():
	case <-time.After(watchLinger):
	}
}

// watchLinger is how long a watch stays open after its events.
const watchLinger = 2 * time.Second

func pod(ns, name string) map[string]any {
	if ns == "" {
		ns = "default"
	}
	return map[string]any{"kind": "Pod", "apiVersion": "v1",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": "uid-" + name, "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "busybox"}}},
		"status":   map[string]any{"phase": "Running"}}
}

func secret(ns, name string) map[string]any {
	if ns == "" {
		ns = "default"
	}
	return map[string]any{"kind": "Secret", "apiVersion": "v1",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": "uid-" + name, "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"},
		"type":     "Opaque", "data": map[string]any{"password": "aHVudGVyMg=="}}
}

func table(items []map[string]any) map[string]any {
	rows := []any{}
	for _, it := range items {
		md := it["metadata"].(map[string]any)
		rows = append(rows, map[string]any{"cells": []any{md["name"], "Running"},
			"object": map[string]any{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}})
	}
	return map[string]any{"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": map[string]any{"resourceVersion": "1"},
		"columnDefinitions": []any{
			map[string]any{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
			map[string]any{"name": "Status", "type": "string", "format": "", "description": "Status", "priority": 0},
		},
		"rows": rows}
}

var resourceList = map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": []any{
	map[string]any{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "shortNames": []string{"po"},
		"verbs": []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}},
	map[string]any{"name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions", "verbs": []string{"create", "get"}},
	map[string]any{"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": []string{"get"}},
	map[string]any{"name": "secrets", "singularName": "secret", "namespaced": true, "kind": "Secret",
		"verbs": []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}},
	map[string]any{"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "shortNames": []string{"ns"},
		"verbs": []string{"create", "delete", "get", "list", "patch", "update", "watch"}},
}}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteStatus writes a Kubernetes Status error.
func WriteStatus(w http.ResponseWriter, code int, reason, message string) {
	writeJSON(w, code, map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": message, "reason": reason, "code": code})
}
