// The bench command: a load generator in the spirit of hey.

package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynchttp/asynchttp"
)

const benchHead = `Usage: asynchttp bench [flags] URL

Sends -n requests (or as many as fit in -d) to URL from -c workers at once,
each through Client.Do with a pooled request and response, and prints
requests/s, a latency histogram with percentiles, the status codes, the
errors by kind, and how many connections were opened and reused.

-body @FILE reads the body from FILE.

Exit code: 0 when at least one response arrived, 1 when none did, 2 for a
bad flag or URL, 130 after Ctrl-C (the summary is printed first).
`

// benchResult is what the workers collected.
type benchResult struct {
	mu        sync.Mutex
	latencies []time.Duration
	statuses  map[int]int
	errs      map[string]int
	firstErr  map[string]string
	bytes     int64
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", benchHead)
	var cf configFlags
	cf.register(fs, asynchttp.Config{})
	workers := fs.Int("c", 50, "workers sending requests at once")
	n := fs.Int("n", 200, "requests in all (ignored with -d)")
	dur := fs.Duration("d", 0, "send requests for this long instead of -n of them")
	method := fs.String("method", "GET", "request method")
	body := fs.String("body", "", "request body, or @FILE to read it from FILE")
	metricsAddr := fs.String("metrics", "", "serve the pool's Prometheus metrics at http://ADDR/metrics during the run (e.g. 127.0.0.1:9100)")
	timeout := fs.Duration("timeout", 20*time.Second, "per-request deadline (waiting for a connection included); 0 = none")
	var headers headerFlag
	fs.Var(&headers, "H", `request header "Name: value", repeatable`)
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "asynchttp bench: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() != 1 {
		return fail("want exactly one URL, got %d (usage: asynchttp bench [flags] URL)", fs.NArg())
	}
	u, err := parseURL(fs.Arg(0))
	if err != nil {
		return fail("%v", err)
	}
	switch {
	case *workers < 1:
		return fail("-c must be positive")
	case *dur < 0:
		return fail("-d must not be negative")
	case *dur == 0 && *n < 1:
		return fail("-n must be positive")
	}
	var bodyBytes []byte
	if strings.HasPrefix(*body, "@") {
		if bodyBytes, err = os.ReadFile((*body)[1:]); err != nil {
			return fail("-body: %v", err)
		}
	} else if *body != "" {
		bodyBytes = []byte(*body)
	}

	cfg := cf.config()
	c := asynchttp.New(cfg)
	stopMetrics, err := serveMetrics(*metricsAddr, c, stderr)
	if err != nil {
		c.Close()
		return fail("%v", err)
	}
	defer stopMetrics()
	res := &benchResult{statuses: map[int]int{}, errs: map[string]int{}, firstErr: map[string]string{}}
	var sent, done atomic.Int64
	var deadline time.Time
	if *dur > 0 {
		deadline = time.Now().Add(*dur)
	}
	// take reports whether a worker may send one more request.
	take := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if *dur > 0 {
			return time.Now().Before(deadline)
		}
		return sent.Add(1) <= int64(*n)
	}
	mode := fmt.Sprintf("%d requests", *n)
	if *dur > 0 {
		mode = fmt.Sprintf("requests for %v", *dur)
	}
	fmt.Fprintf(stdout, "bench: %s %s, %s from %d workers (%s)\n", *method, u, mode, *workers, cf.describe())

	start := time.Now()
	o := newObserver() // for the status line only
	status := startStatus(stderr, c, o, func(st asynchttp.Stats) string {
		d := int(done.Load())
		return fmt.Sprintf("requests %d · %.0f/s · %s", d, rate(d, time.Since(start)), poolPart(st))
	})
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			var lat []time.Duration
			statuses := map[int]int{}
			errs := map[string]int{}
			first := map[string]string{}
			var bytes int64
			for take() {
				req.Reset()
				req.SetRequestURI(u.String())
				req.SetMethod(*method)
				for _, h := range headers {
					req.Header.Add(h[0], h[1])
				}
				if bodyBytes != nil {
					req.SetBody(bodyBytes)
				}
				rctx, cancel := ctx, context.CancelFunc(func() {})
				if *timeout > 0 {
					rctx, cancel = context.WithTimeout(ctx, *timeout)
				}
				t0 := time.Now()
				err := c.Do(rctx, req, resp)
				d := time.Since(t0)
				cancel()
				if err != nil {
					if ctx.Err() != nil {
						break // Ctrl-C: not the server's fault
					}
					k := errKind(err)
					errs[k]++
					if first[k] == "" {
						first[k] = err.Error()
					}
				} else {
					lat = append(lat, d)
					statuses[resp.StatusCode]++
					bytes += int64(len(resp.Body()))
				}
				done.Add(1)
			}
			res.mu.Lock()
			res.latencies = append(res.latencies, lat...)
			for k, v := range statuses {
				res.statuses[k] += v
			}
			for k, v := range errs {
				res.errs[k] += v
			}
			for k, v := range first {
				if res.firstErr[k] == "" {
					res.firstErr[k] = v
				}
			}
			res.bytes += bytes
			res.mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	status.Stop()
	c.Close()
	st := c.Stats()

	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "interrupted: the summary covers what was done")
	}
	printBench(stdout, res, elapsed, st)
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case len(res.latencies) == 0:
		fmt.Fprintln(stderr, "asynchttp bench: no response arrived")
		return exitFailed
	}
	return exitOK
}

// printBench writes the summary, hey-style.
func printBench(w io.Writer, res *benchResult, elapsed time.Duration, st asynchttp.Stats) {
	lat := res.latencies
	slices.Sort(lat)
	nerr := 0
	for _, v := range res.errs {
		nerr += v
	}
	total := len(lat) + nerr
	fmt.Fprintf(w, "\nSummary:\n")
	fmt.Fprintf(w, "  Total:        %v\n", elapsed.Round(time.Microsecond))
	fmt.Fprintf(w, "  Requests:     %d (%d responses, %d errors)\n", total, len(lat), nerr)
	fmt.Fprintf(w, "  Requests/s:   %.1f\n", rate(total, elapsed))
	if len(lat) > 0 {
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		fmt.Fprintf(w, "  Fastest:      %s\n", fmtDur(lat[0]))
		fmt.Fprintf(w, "  Average:      %s\n", fmtDur(sum/time.Duration(len(lat))))
		fmt.Fprintf(w, "  Slowest:      %s\n", fmtDur(lat[len(lat)-1]))
		fmt.Fprintf(w, "  Body bytes:   %s\n", fmtBytes(res.bytes))

		fmt.Fprintf(w, "\nLatency histogram:\n")
		printHistogram(w, lat)
		fmt.Fprintf(w, "\nLatency distribution:\n")
		for _, p := range []float64{10, 25, 50, 75, 90, 95, 99, 99.9} {
			fmt.Fprintf(w, "  %5g%% in %s\n", p, fmtDur(percentile(lat, p)))
		}
	}
	if len(res.statuses) > 0 {
		fmt.Fprintf(w, "\nStatus codes:\n")
		for _, k := range slices.Sorted(maps.Keys(res.statuses)) {
			fmt.Fprintf(w, "  [%d] %d responses\n", k, res.statuses[k])
		}
	}
	if nerr > 0 {
		fmt.Fprintf(w, "\nErrors:\n")
		for _, k := range slices.Sorted(maps.Keys(res.errs)) {
			fmt.Fprintf(w, "  [%s] %d, e.g. %s\n", k, res.errs[k], res.firstErr[k])
		}
	}
	fmt.Fprintf(w, "\nConnections:\n")
	fmt.Fprintf(w, "  opened %d, requests on reused ones %d (%s of responses)\n", st.Created, st.Reused, pct(int(st.Reused), len(lat)))
	fmt.Fprintf(w, "  closed %d: %s\n", st.Closed, fmtReasons(st.ClosedBy))
}

// printHistogram draws 10 equal-width buckets from the fastest to the
// slowest latency, with bars scaled to the fullest bucket.
func printHistogram(w io.Writer, sorted []time.Duration) {
	const buckets, width = 10, 40
	lo, hi := sorted[0], sorted[len(sorted)-1]
	step := (hi - lo) / buckets
	if step <= 0 {
		fmt.Fprintf(w, "  %9s [%6d] |%s\n", fmtDur(hi), len(sorted), strings.Repeat("■", width))
		return
	}
	counts := make([]int, buckets+1)
	for _, d := range sorted {
		counts[min(int((d-lo)/step), buckets)]++
	}
	// The last bucket holds exactly the slowest; fold it into the one before.
	counts[buckets-1] += counts[buckets]
	top := slices.Max(counts[:buckets])
	for i := range buckets {
		edge := lo + step*time.Duration(i+1)
		if i == buckets-1 {
			edge = hi
		}
		bar := 0
		if top > 0 {
			bar = counts[i] * width / top
		}
		fmt.Fprintf(w, "  %9s [%6d] |%s\n", fmtDur(edge), counts[i], strings.Repeat("■", bar))
	}
}
