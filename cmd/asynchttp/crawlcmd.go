// The crawl command.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/asynchttp/asynchttp"
)

const crawlHead = `Usage: asynchttp crawl [flags] URL...

Crawls the given sites breadth-first: fetches each URL, follows the links of
HTML pages (a and area href, and redirects) to the hosts allowed, at most
-depth links away and -max-pages pages in all. Bodies stream through a
handler: a response that is not HTML is abandoned after its head. At the
end, a per-host table: requests, pages fine (2xx/3xx), connections dialed,
the most open at once, the share of requests on a reused connection, p50
and p99 latency, errors by kind, why the pool closed its connections;
then the pool's totals.

Politeness is the client's host policy (the same for Do, futures and
RoundTrip): -rate caps request starts per second per host, -delay spaces
them (with -delay-jitter), -adaptive lets each host's connection cap follow
its latency and its 429/503 answers; robots.txt is read first on each host
and obeyed (-robots=false to skip it), and its Crawl-delay lengthens the
host's -delay. At most -per-host+1 URLs of one host (4 when only
politeness is set) are in flight, so a slow host holds no more of the -c
request slots. -retry N retries 429 and 503 answers (waiting out
Retry-After), -breaker N ejects a host after N consecutive failures. The
table then shows, per host, the time requests waited for their turn
(polite), the connection cap at the end (limit), the retries, and the
requests an open breaker failed at once (ejected).

-json writes one JSON record per page to stdout (the table goes to stderr):
url, depth, status, content_type, bytes, links, skipped, reused, ms, error,
error_kind.

Exit code: 0 when at least one page was fetched, 1 when none was, 2 for a
bad flag or URL, 130 after Ctrl-C.
`

// stringsFlag collects a repeated, comma-separated flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func runCrawl(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("crawl", crawlHead)
	var cf configFlags
	cf.register(fs, asynchttp.Config{})
	fs.IntVar(&cf.cfg.MaxTotalConns, "total", 0, "short for -max-total-conns")
	fs.IntVar(&cf.cfg.MaxConnsPerHost, "per-host", 0, "short for -max-conns-per-host")
	var allow stringsFlag
	fs.Var(&allow, "allow-host", "hosts the crawl may visit, repeated or comma-separated: host:port, host (any port) or *; default: the seeds' host:port")
	depth := fs.Int("depth", 3, "follow links at most this many hops from a seed")
	maxPages := fs.Int("max-pages", 1000, "fetch at most this many URLs in all")
	inflight := fs.Int("c", 32, "requests in flight at once")
	var pol asynchttp.HostPolicy
	fs.Float64Var(&pol.Rate, "rate", 0, "politeness: at most this many request starts per second to one host (0: no limit)")
	fs.IntVar(&pol.Burst, "burst", 1, "with -rate: how many requests to a host may start at once after a quiet spell")
	fs.DurationVar(&pol.Delay, "delay", 0, "politeness: at least this long between two request starts to one host")
	fs.DurationVar(&pol.Delay, "delay-per-host", 0, "the same as -delay")
	fs.Float64Var(&pol.DelayJitter, "delay-jitter", 0, "with -delay: lengthen each gap by up to this fraction of it, at random, in [0, 1]")
	fs.BoolVar(&pol.Adaptive, "adaptive", false, "adapt each host's connection cap (1..-per-host, else 32) to its latency and its 429/503 answers")
	redisURL := fs.String("redis", "", "crawl as one worker of a fleet sharing the frontier, the seen URLs, the page budget and per-host caps through this Redis (redis://127.0.0.1:6379)")
	crawlIDFlag := fs.String("crawl-id", "", "with -redis: the crawl's name in Redis; workers with the same one share it (default: derived from the seeds)")
	fleetPerHost := fs.Int("fleet-per-host", 0, "with -redis: requests in flight per host across the whole fleet (0: no fleet cap)")
	fleetRate := fs.Float64("fleet-rate", 0, "with -redis: request starts per second per host across the whole fleet (0: no limit)")
	fleetLease := fs.Duration("fleet-lease", 0, "with -redis: a URL taken by a worker goes back to the others if not done within this (a worker killed mid-crawl); default: twice -timeout, or 1m")
	fleetFailOpen := fs.Bool("fleet-fail-open", false, "with -redis: when Redis is unreachable, admit requests under the local caps only (default: fail them)")
	useRobots := fs.Bool("robots", true, "fetch each host's robots.txt first and obey it (Disallow, Allow, Crawl-delay)")
	timeout := fs.Duration("timeout", 30*time.Second, "per-request deadline (waiting for a connection included); 0 = none")
	metricsAddr := fs.String("metrics", "", "serve the pool's Prometheus metrics at http://ADDR/metrics during the crawl (e.g. 127.0.0.1:9100)")
	jsonOut := fs.Bool("json", false, "write one JSON record per page to stdout; the table goes to stderr")
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	seeds, err := parseSeeds(fs.Args())
	switch {
	case err != nil:
	case *depth < 0:
		err = usagef("-depth must not be negative")
	case *maxPages < 1:
		err = usagef("-max-pages must be positive")
	case *inflight < 1:
		err = usagef("-c must be positive")
	case pol.Rate < 0 || math.IsNaN(pol.Rate) || math.IsInf(pol.Rate, 0):
		err = usagef("-rate must be a number ≥ 0")
	case pol.Burst < 1:
		err = usagef("-burst must be positive")
	case pol.Delay < 0:
		err = usagef("-delay must not be negative")
	case !(pol.DelayJitter >= 0 && pol.DelayJitter <= 1):
		err = usagef("-delay-jitter must be in [0, 1]")
	}
	if pol.Rate == 0 {
		pol.Burst = 0
	}
	if err == nil && (*fleetPerHost < 0 || !(*fleetRate >= 0) || math.IsInf(*fleetRate, 0)) {
		err = usagef("-fleet-per-host and -fleet-rate must not be negative")
	}
	if err != nil {
		fmt.Fprintf(stderr, "asynchttp crawl: %v\n", err)
		return exitUsage
	}

	tableOut := stdout
	var jsonW io.Writer
	if *jsonOut {
		tableOut, jsonW = stderr, stdout
	}
	opt := crawlOptions{
		seeds: seeds, allow: allow, depth: *depth, maxPages: *maxPages, inflight: *inflight,
		policy: pol, robots: *useRobots, hostSlots: hostSlots(cf.cfg.MaxConnsPerHost, pol, *useRobots),
		timeout: *timeout, maxHTML: 4 << 20, json: jsonW, metrics: *metricsAddr,
	}
	if *redisURL != "" {
		id := *crawlIDFlag
		if id == "" {
			id = crawlID(seeds)
		}
		fl, err := openFleet(ctx, *redisURL, id)
		if err == nil {
			err = fl.join(ctx)
		}
		if err != nil {
			fmt.Fprintf(stderr, "asynchttp crawl: %v\n", err)
			if fl != nil {
				fl.Close()
			}
			var ue *usageError
			if errors.As(err, &ue) {
				return exitUsage
			}
			return exitFailed
		}
		defer fl.Close()
		fl.lease = *fleetLease
		if fl.lease <= 0 {
			fl.lease = 2 * *timeout
			if fl.lease <= 0 {
				fl.lease = time.Minute
			}
		}
		opt.fleet = fl
		if *fleetPerHost > 0 || *fleetRate > 0 {
			lim := fl.limiter(*fleetPerHost, *fleetRate, *fleetFailOpen)
			defer lim.Close()
			cf.cfg.HostLimiter = lim
		}
	}
	res, interrupted := crawlAndReport(ctx, cf, opt, tableOut, stderr, nil)
	if opt.fleet != nil {
		if err := opt.fleet.Err(); err != nil {
			fmt.Fprintf(stderr, "asynchttp crawl: %v\n", err)
			return exitFailed
		}
		if !interrupted {
			return exitOK // the fleet's pages may all have gone to other workers
		}
	}
	switch {
	case interrupted:
		return exitInterrupted
	case res.pages == 0:
		msg := "nothing was fetched"
		if res.firstErr != "" {
			msg = res.firstErr
		}
		fmt.Fprintf(stderr, "asynchttp crawl: no page could be fetched (%d of %d requests failed); first: %s\n", res.failed, res.done, msg)
		return exitFailed
	}
	return exitOK
}

// hostSlots is how many URLs of one host a crawl has in flight at once:
// the host's connection cap and one more, ready to go when a connection
// frees; 4 with politeness and no cap; no limit otherwise.
func hostSlots(perHost int, pol asynchttp.HostPolicy, robots bool) int {
	switch {
	case perHost > 0:
		return perHost + 1
	case pol != (asynchttp.HostPolicy{}) || robots:
		return 4
	}
	return 0
}

// crawlAndReport runs a crawl with the status line, then prints the
// per-host table and the pool summary to out. It reports whether ctx
// ended the crawl (Ctrl-C).
func crawlAndReport(ctx context.Context, cf configFlags, opt crawlOptions, out, stderr io.Writer, label func(string) string) (crawlResult, bool) {
	o := newObserver()
	cfg := cf.config()
	cfg.Dial = o.dial
	cfg.Events.ConnClosed = o.connClosed
	if opt.policy != (asynchttp.HostPolicy{}) || opt.robots {
		// With robots.txt too: the policy layer then sees the robots.txt
		// request, and a Crawl-delay counts from it.
		pol := opt.policy
		cfg.HostPolicy = func(string) asynchttp.HostPolicy { return pol }
	}
	c := asynchttp.New(cfg)
	stopMetrics, err := serveMetrics(opt.metrics, c, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "asynchttp crawl: %v\n", err)
		stopMetrics = func() {}
	}
	defer stopMetrics()
	cr := newCrawler(c, o, opt)
	status := startStatus(stderr, c, o, cr.statusText)
	res := cr.run(ctx)
	status.Stop()
	c.Close()
	interrupted := ctx.Err() != nil
	if interrupted {
		fmt.Fprintln(out, "interrupted: the table covers what was done")
	}
	fmt.Fprintf(out, "crawled %d URLs in %v: %d pages, %d not HTML (skipped after the head), %d failed; %d URLs found, %d queued (-max-pages %d)\n",
		res.done, res.elapsed.Round(time.Millisecond), res.pages, res.skipped, res.failed, res.found, res.queued, opt.maxPages)
	if cr.robots != nil {
		read, failed := cr.robots.counts()
		fmt.Fprintf(out, "robots.txt: read on %d hosts (%d unreachable: allowed), %d URLs disallowed, %d hosts with a Crawl-delay\n",
			read, failed, res.disallowed, cr.crawlDelays.Load())
	}
	var pf map[string]policyFigures
	if opt.policy != (asynchttp.HostPolicy{}) || opt.robots || cfg.Retry.MaxAttempts > 1 || cfg.Breaker.Failures > 0 {
		pf = policyFiguresOf(c.Stats())
	}
	printHostTable(out, o, label, pf)
	printPoolSummary(out, c.Stats(), o, cfg)
	if fl := opt.fleet; fl != nil {
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if pf == nil {
			pf = policyFiguresOf(c.Stats())
		}
		last, err := fl.leave(lctx, o.summaries(), pf)
		switch {
		case err != nil:
			fl.fail(fmt.Errorf("redis: adding this worker's figures: %w", err))
		case last:
			fmt.Fprintln(out)
			if err := fl.printMerged(lctx, out); err != nil {
				fl.fail(fmt.Errorf("redis: reading the fleet's figures: %w", err))
			}
		}
	}
	return res, interrupted
}

func parseSeeds(args []string) ([]*url.URL, error) {
	if len(args) == 0 {
		return nil, usagef("no URL given (usage: asynchttp crawl [flags] URL...)")
	}
	var seeds []*url.URL
	for _, a := range args {
		u, err := parseURL(a)
		if err != nil {
			return nil, err
		}
		if u.Path == "" {
			u.Path = "/"
		}
		u.Fragment = ""
		seeds = append(seeds, u)
	}
	return seeds, nil
}
