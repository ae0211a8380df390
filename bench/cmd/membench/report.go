package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

type report struct{ b strings.Builder }

func (r *report) p(format string, args ...any) { fmt.Fprintf(&r.b, format, args...) }

func errNote(x childResult) string {
	if x.Err == "" && x.Errs == 0 {
		return ""
	}
	e := x.Err
	if len(e) > 80 {
		e = e[:80] + "…"
	}
	return fmt.Sprintf(" (%d errors: %s)", x.Errs, e)
}

// conns: rows in client order; ratios against fasthttp (the smallest known).
func (r *report) conns(tlsOn bool, n int, rows []childResult) {
	kind := "HTTP"
	if tlsOn {
		kind = "HTTPS"
	}
	r.p("\n### %s: %d connections, per connection (after runtime.GC; heap = HeapInuse, stack = StackInuse, RSS = VmRSS deltas)\n\n", kind, n)
	var fastIdle, fastInfl float64
	for _, x := range rows {
		if x.Args.Client == cFast {
			fastIdle, fastInfl = x.IdleHeap+x.IdleStack, x.InflHeap+x.InflStack
		}
	}
	r.p("| client | idle heap KiB | idle stack KiB | idle heap+stack KiB | ×fasthttp | idle RSS KiB | idle goroutines | in-flight heap KiB | in-flight stack KiB | in-flight heap+stack KiB | ×fasthttp | in-flight RSS KiB | in-flight goroutines | server saw conns |\n")
	r.p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, x := range rows {
		idle, infl := x.IdleHeap+x.IdleStack, x.InflHeap+x.InflStack
		r.p("| %s%s | %.1f | %.1f | **%.1f** | %.2f | %.1f | %.2f | %.1f | %.1f | **%.1f** | %.2f | %.1f | %.2f | %d |\n",
			x.Args.Client, errNote(x), x.IdleHeap, x.IdleStack, idle, ratio(idle, fastIdle), x.IdleRSS, x.IdleG,
			x.InflHeap, x.InflStack, infl, ratio(infl, fastInfl), x.InflRSS, x.InflG, x.Conns)
	}
	r.p("\nIn flight includes the caller's goroutine per request (the harness's, the same for every client).\n")
}

func (r *report) crawl(title string, rows []childResult) {
	r.p("\n### %s\n\n", title)
	var netPeak, netSettled float64
	var netFDs int
	for _, x := range rows {
		if x.Args.Client == cNet {
			netPeak, netSettled, netFDs = x.PeakHeap-x.BaseHeap, x.SettledHeap-x.BaseHeap, x.PeakFDs
		}
	}
	r.p("| client | ok | s | base heap MiB | peak heap MiB | ×net/http (peak−base) | heap at end MiB | settled heap MiB | ×net/http (settled−base) | peak fds | ×net/http | fds at end | settled fds |\n")
	r.p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, x := range rows {
		r.p("| %s%s | %d | %.1f | %.1f | **%.1f** | %.2f | %.1f | **%.1f** | %.2f | %d | %.2f | %d | %d |\n",
			x.Args.Client, errNote(x), x.Done, x.Seconds, x.BaseHeap, x.PeakHeap, ratio(x.PeakHeap-x.BaseHeap, netPeak), x.EndHeap,
			x.SettledHeap, ratio(x.SettledHeap-x.BaseHeap, netSettled), x.PeakFDs, ratio(float64(x.PeakFDs), float64(netFDs)), x.EndFDs, x.SettledFDs)
	}
}

func (r *report) churn(n int, rows []childResult) {
	r.p("\n### TLS churn: %d HTTPS GETs, c=4, a new connection per request (server answers Connection: close); resumed counted server-side (ConnectionState.DidResume)\n\n", n)
	var netDefault float64
	for _, x := range rows {
		if x.Args.Client == cNet && !x.Args.Cache {
			netDefault = x.CPUPerReqUS
		}
	}
	r.p("| client | session cache | ok | client CPU µs/req | ×net/http default | handshakes | resumed |\n")
	r.p("|---|---|--:|--:|--:|--:|--:|\n")
	for _, x := range rows {
		cache := "default (none set)"
		if x.Args.Cache {
			cache = "tls.NewLRUClientSessionCache(0)"
		}
		res := 0.0
		if x.Handshakes > 0 {
			res = 100 * float64(x.Resumed) / float64(x.Handshakes)
		}
		r.p("| %s%s | %s | %d | **%.0f** | %.2f | %d | %.0f %% |\n", x.Args.Client, errNote(x), cache, x.Done, x.CPUPerReqUS, ratio(x.CPUPerReqUS, netDefault), x.Handshakes, res)
	}
}

func (r *report) markdown(cmdline string, took time.Duration) string {
	return fmt.Sprintf("# Memory and scale\n\nReproduce: `%s` (took %.0f s; %s, GOMAXPROCS %d, %d CPUs; server and client in separate processes, pinned with taskset when available).\n%s",
		cmdline, took.Seconds(), runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), r.b.String())
}
