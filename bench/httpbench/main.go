// Command httpbench measures HTTPS requests directly against an upstream
// and through ward's proxy, for bench/http.sh.
//
//	httpbench upstream -ca-out FILE [-delay D]   serve HTTPS on 127.0.0.1, print the address
//	httpbench load -url URL -ca FILE [-proxy URL] [-c N] [-d DURATION]
//
// load prints one JSON line: requests per second and latency percentiles.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wardproject/ward/bench/loadgen"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: httpbench upstream|load [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "upstream":
		err = upstream(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpbench:", err)
		os.Exit(1)
	}
}

// upstream serves a small JSON answer, like a typical API read.
func upstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	caOut := fs.String("ca-out", "upstream-ca.pem", "where to write the server's certificate")
	delay := fs.Duration("delay", 0, "time the upstream takes per request (0: answer at once)")
	_ = fs.Parse(args)
	body := []byte(`{"id":1296269,"name":"app","full_name":"acme/app","private":false,"stargazers_count":80}`)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if *delay > 0 {
			time.Sleep(*delay)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	srv.EnableHTTP2 = false
	srv.StartTLS()
	defer srv.Close()
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(*caOut, pemData, 0o600); err != nil {
		return err
	}
	fmt.Println(srv.Listener.Addr().String())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	target := fs.String("url", "", "URL to GET")
	caFile := fs.String("ca", "", "PEM roots to trust")
	proxy := fs.String("proxy", "", "HTTP proxy URL (ward)")
	conc := fs.Int("c", 8, "concurrent connections")
	dur := fs.Duration("d", 10*time.Second, "duration")
	_ = fs.Parse(args)
	pemData, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemData)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}
	if *proxy != "" {
		u, err := url.Parse(*proxy)
		if err != nil {
			return err
		}
		tr.Proxy = http.ProxyURL(u)
	}
	client := &http.Client{Transport: tr}
	return loadgen.Run(client, *conc, *dur, func(int) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, *target, nil)
		return req
	}).Print()
}
