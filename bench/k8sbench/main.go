// Command k8sbench measures kubectl-shaped Kubernetes API requests directly
// against a fake API server and through ward, for bench/kubernetes.sh.
//
//	k8sbench apiserver -ca-out FILE        serve the fake API server, print its address
//	k8sbench load -server URL -ca FILE -token T [-c N] [-d DURATION]
//
// Each loop of load is what `kubectl get pods` then `kubectl get pod web-0`
// send once discovery is cached: a Table list of pods and a single pod,
// over HTTP/2 with a bearer token. load prints one JSON line: requests per
// second and latency percentiles.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wardproject/ward/bench/loadgen"
	"github.com/wardproject/ward/protocols/kubernetes/kubetest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8sbench apiserver|load [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "apiserver":
		err = apiserver(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8sbench:", err)
		os.Exit(1)
	}
}

func apiserver(args []string) error {
	fs := flag.NewFlagSet("apiserver", flag.ExitOnError)
	caOut := fs.String("ca-out", "", "write the server's certificate (PEM) here")
	_ = fs.Parse(args)
	s := kubetest.Start()
	defer s.Close()
	s.Record(false)
	if err := os.WriteFile(*caOut, s.CAPEM(), 0o600); err != nil {
		return err
	}
	fmt.Println(s.Listener.Addr().String())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}

// requests are one kubectl-shaped loop.
var requests = []struct{ path, accept string }{
	{"/api/v1/namespaces/default/pods?limit=500", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"},
	{"/api/v1/namespaces/default/pods/web-0", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
}

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	server := fs.String("server", "", "https://HOST:PORT of the API server or of ward's endpoint")
	caFile := fs.String("ca", "", "PEM roots to trust")
	token := fs.String("token", "", "bearer token to send")
	conc := fs.Int("c", 1, "concurrent clients")
	dur := fs.Duration("d", 5*time.Second, "duration")
	_ = fs.Parse(args)
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: *conc}}
	return loadgen.Run(client, *conc, *dur, func(i int) *http.Request {
		r := requests[i%len(requests)]
		req, _ := http.NewRequest(http.MethodGet, *server+r.path, nil)
		req.Header.Set("Accept", r.accept)
		req.Header.Set("User-Agent", "kubectl/v1.32.4 (linux/amd64) k8sbench")
		if *token != "" {
			req.Header.Set("Authorization", "Bearer "+*token)
		}
		return req
	}).Print()
}
