// Package loadgen is the load loop the benchmark commands share: N
// concurrent clients send requests for a duration, and the result is
// requests per second with latency percentiles, as one JSON line.
package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

// Result is what a run measured.
type Result struct {
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	RPS         float64 `json:"rps"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
}

// Run has conc clients call next(i) for their i-th request and send it
// with client until dur has passed. A transport error or a status other
// than 200 counts as an error and is not timed.
func Run(client *http.Client, conc int, dur time.Duration, next func(i int) *http.Request) Result {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(dur)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for i := 0; time.Now().Before(deadline); i++ {
				start := time.Now()
				if err := send(client, next(i)); err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	r := Result{Concurrency: conc, Requests: len(lat), Errors: errs, RPS: float64(len(lat)) / dur.Seconds()}
	if len(lat) > 0 {
		r.P50us = float64(lat[len(lat)/2].Microseconds())
		r.P99us = float64(lat[len(lat)*99/100].Microseconds())
	}
	return r
}

func send(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// Print writes r as one JSON line on stdout.
func (r Result) Print() error { return json.NewEncoder(os.Stdout).Encode(r) }
