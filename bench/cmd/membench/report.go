package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// chartFile and resultsFile are the chart's and the raw results' names,
// beside the markdown output.
const (
	chartFile   = "memory.svg"
	resultsFile = "memory.json"
)

// results are a run's figures, written to memory.json so that -report can
// draw the markdown and the chart again without running again.
type results struct {
	Cmdline    string  `json:"cmdline"`
	Seconds    float64 `json:"seconds"`
	Go         string  `json:"go"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	CPUs       int     `json:"cpus"`

	Conns     int `json:"conns"`
	TLSConns  int `json:"tls_conns"`
	Hosts     int `json:"hosts"`
	ZeroHosts int `json:"zero_hosts"`
	Conc      int `json:"conc"`
	CrawlCap  int `json:"crawl_cap"`
	Churn     int `json:"churn"`

	// One row per variant, one result per round; nil when not run.
	HTTP      [][]childResult `json:"http,omitempty"`
	HTTPS     [][]childResult `json:"https,omitempty"`
	Crawl     []childResult   `json:"crawl,omitempty"` // one per client
	Zero      []childResult   `json:"zero,omitempty"`
	ChurnRows [][]childResult `json:"churn_rows,omitempty"`
}

// render draws the markdown and the chart of res.
func (res *results) render() (md, svg string) {
	r := &report{}
	if res.HTTP != nil {
		r.conns(false, res.Conns, res.HTTP)
	}
	if res.HTTPS != nil {
		r.conns(true, res.TLSConns, res.HTTPS)
	}
	if res.Crawl != nil {
		r.crawl(fmt.Sprintf("Crawl: %d host names, one GET each, c=%d, IdleTimeout 2 s for every client, connections kept across hosts capped at %d (asynchttp MaxTotalConns and MaxIdleConns, net/http MaxIdleConns; fasthttp has no such cap, so it keeps every connection for 2 s); settled = 5 s after the crawl", res.Hosts, res.Conc, res.CrawlCap), fmt.Sprintf("%d hosts", res.Hosts), res.Crawl)
	}
	if res.Zero != nil {
		r.crawl(fmt.Sprintf("Crawl with default settings: %d host names, c=%d; asynchttp zero Config, net/http DefaultTransport's settings; settled = 5 s after the crawl", res.ZeroHosts, res.Conc), fmt.Sprintf("%d hosts, defaults", res.ZeroHosts), res.Zero)
	}
	if res.ChurnRows != nil {
		r.churn(res.Churn, res.ChurnRows)
	}
	md = fmt.Sprintf("# Memory and scale\n\nReproduce: `%s` (took %.0f s; %s, GOMAXPROCS %d, %d CPUs; server and client in separate processes, pinned with taskset when available; raw figures in %s, from which `-report` draws this again).\n\n![memory chart](%s)\n%s",
		res.Cmdline, res.Seconds, res.Go, res.GOMAXPROCS, res.CPUs, resultsFile, chartFile, r.b.String())
	sub := fmt.Sprintf("%s (%.0f s); %s, GOMAXPROCS %d; every client in its own process", res.Cmdline, res.Seconds, res.Go, res.GOMAXPROCS)
	return md, r.ch.svg("What connections cost: asynchttp, net/http, fasthttp", sub)
}

type report struct {
	b  strings.Builder
	ch chart // the default rows' figures, for memory.svg
}

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

// sessions names a row's TLS session setting.
func sessions(a childArgs) string {
	switch {
	case a.HS < 0:
		return "default, MaxConcurrentHandshakes -1 (no cap)"
	case a.NoCache:
		return "off (DisableTLSSessionCache)"
	case a.Cache:
		return "tls.NewLRUClientSessionCache(0)"
	case a.Client == cAsync:
		return "default (the Client's own cache)"
	}
	return "default (none)"
}

// medianOf returns the median of v (the upper one of an even count); v is
// sorted in place.
func medianOf(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

// median returns the row of rs whose f is the median.
func median(rs []childResult, f func(childResult) float64) childResult {
	s := append([]childResult(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return f(s[i]) < f(s[j]) })
	return s[len(s)/2]
}

// conns: one row per variant, the round whose idle figure is the median
// (every round's idle figure beside it); ratios against fasthttp's default.
func (r *report) conns(tlsOn bool, n int, rounds [][]childResult) {
	kind := "HTTP"
	if tlsOn {
		kind = "HTTPS"
	}
	r.p("\n### %s: %d connections, per connection (after runtime.GC; heap = HeapInuse, live = HeapAlloc, stack = StackInuse, RSS = VmRSS deltas); the median of %d interleaved rounds by idle heap+stack\n\n", kind, n, len(rounds[0]))
	idleOf := func(x childResult) float64 { return x.IdleHeap + x.IdleStack }
	var fastIdle, fastInfl float64
	for _, rs := range rounds {
		if x := rs[0].Args; x.Client == cFast && !x.Cache {
			m := median(rs, idleOf)
			fastIdle, fastInfl = idleOf(m), m.InflHeap+m.InflStack
		}
	}
	tlsCol, tlsSep := "", ""
	if tlsOn {
		tlsCol, tlsSep = " TLS setting |", "---|"
	}
	r.p("| client |%s idle heap KiB | idle live KiB | idle stack KiB | idle heap+stack KiB | ×fasthttp | per round | idle RSS KiB | idle goroutines | in-flight heap KiB | in-flight stack KiB | in-flight heap+stack KiB | ×fasthttp | in-flight RSS KiB | in-flight goroutines | setup: peak heap KiB | setup: heap from OS KiB | setup: allocated KiB | setup: GCs | server saw conns |\n", tlsCol)
	r.p("|---|%s--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n", tlsSep)
	for _, rs := range rounds {
		x := median(rs, idleOf)
		var per []string
		for _, y := range rs {
			per = append(per, fmt.Sprintf("%.1f", idleOf(y)))
			if y.Err != "" || y.Errs > 0 {
				x = y // a failed round shows
			}
		}
		idle, infl := idleOf(x), x.InflHeap+x.InflStack
		col := ""
		if tlsOn {
			col = " " + sessions(x.Args) + " |"
		}
		if a := x.Args; !a.Cache && !a.NoCache && a.HS == 0 {
			r.ch.add("Per connection: heap+stack after GC, median of the rounds", "KiB", kind+" idle", a.Client, idle)
			r.ch.add("Per connection: heap+stack after GC, median of the rounds", "KiB", kind+" in flight", a.Client, infl)
		}
		r.p("| %s%s |%s %.1f | %.1f | %.1f | **%.1f** | %.2f | %s | %.1f | %.2f | %.1f | %.1f | **%.1f** | %.2f | %.1f | %.2f | %.1f | %.1f | %.1f | %d | %d |\n",
			x.Args.Client, errNote(x), col, x.IdleHeap, x.IdleLive, x.IdleStack, idle, ratio(idle, fastIdle), strings.Join(per, ", "), x.IdleRSS, x.IdleG,
			x.InflHeap, x.InflStack, infl, ratio(infl, fastInfl), x.InflRSS, x.InflG, x.SetupPeakHeap, x.SetupHeapSys, x.SetupAlloc, x.SetupGCs, x.Conns)
	}
	r.p("\nIn flight includes the caller's goroutine per request (the harness's, the same for every client). Heap less live is free space inside the spans still in use: it moves with the garbage made while the connections were set up. Setup columns cover the sending of the N requests, per connection: HeapInuse at its peak, HeapSys (heap memory taken from the OS) at the end, bytes allocated, and the GC cycles run.\n")
}

// crawl prints the rows of a crawl; label names it in the chart.
func (r *report) crawl(title, label string, rows []childResult) {
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
		r.ch.add("Crawls: heap", "MiB", label+": peak", x.Args.Client, x.PeakHeap)
		r.ch.add("Crawls: heap", "MiB", label+": settled", x.Args.Client, x.SettledHeap)
		r.p("| %s%s | %d | %.1f | %.1f | **%.1f** | %.2f | %.1f | **%.1f** | %.2f | %d | %.2f | %d | %d |\n",
			x.Args.Client, errNote(x), x.Done, x.Seconds, x.BaseHeap, x.PeakHeap, ratio(x.PeakHeap-x.BaseHeap, netPeak), x.EndHeap,
			x.SettledHeap, ratio(x.SettledHeap-x.BaseHeap, netSettled), x.PeakFDs, ratio(float64(x.PeakFDs), float64(netFDs)), x.EndFDs, x.SettledFDs)
	}
}

// certKind names the server certificate a churn row ran against.
func certKind(a childArgs) string {
	switch a.Cert {
	case certECDSA:
		return "ECDSA chain"
	case certRSA:
		return "RSA chain"
	}
	return "self-signed"
}

func (r *report) churn(n int, rounds [][]childResult) {
	nr := len(rounds[0])
	r.p("\n### TLS churn: %d HTTPS GETs, c=4, a new connection per request (server answers Connection: close); resumed counted server-side (ConnectionState.DidResume); %d interleaved rounds (each runs every row once): CPU and allocations are medians, the ratio is the median of the rounds' ratios (each row against net/http's default with the same certificate in the same round)\n\n", n, nr)
	r.p("Certificates: *self-signed* is one ECDSA P-256 certificate that the clients trust directly (a full handshake checks one signature). The chains are served as a public site serves them, the leaf and its intermediate under a root that the clients trust (three signatures and a chain to build), shaped like Let's Encrypt's two hierarchies: *ECDSA chain* a P-256 leaf under a P-384 intermediate and root, *RSA chain* 2048-bit leaf and intermediate under a 4096-bit root. A resumed handshake checks none of them but still does the full key exchange.\n\n")
	med := func(rs []childResult, f func(childResult) float64) float64 { return f(median(rs, f)) }
	cpu := func(x childResult) float64 { return x.CPUPerReqUS }
	netRound := map[string][]float64{} // by certificate: net/http default's CPU per round
	for _, rs := range rounds {
		if a := rs[0].Args; a.Client == cNet && !a.Cache {
			for _, x := range rs {
				netRound[a.Cert] = append(netRound[a.Cert], x.CPUPerReqUS)
			}
		}
	}
	r.p("| client | certificate | session cache | ok | client CPU µs/req | ×net/http default | × per round | alloc KiB/req | allocs/req | handshakes | resumed |\n")
	r.p("|---|---|---|--:|--:|--:|---|--:|--:|--:|--:|\n")
	for _, rs := range rounds {
		x := rs[0]
		cache := sessions(x.Args)
		var ok, hs, resumed int64
		var per []string
		ratios := make([]float64, len(rs))
		for i, y := range rs {
			ok, hs, resumed = ok+y.Done, hs+y.Handshakes, resumed+y.Resumed
			ratios[i] = math.NaN()
			if ref := netRound[y.Args.Cert]; i < len(ref) {
				ratios[i] = ratio(y.CPUPerReqUS, ref[i])
			}
			per = append(per, fmt.Sprintf("%.2f", ratios[i]))
			if y.Err != "" {
				x = y // errNote shows the first round that failed
			}
		}
		res := 0.0
		if hs > 0 {
			res = 100 * float64(resumed) / float64(hs)
		}
		mr := medianOf(ratios) // sorts ratios
		if !x.Args.Cache {
			// The ratio, as the table's bold column: medians of µs come
			// from different rounds on a machine whose speed drifts.
			r.ch.add("TLS churn, a new connection per request: client CPU ÷ net/http's default", "×, median of the rounds' ratios", certKind(x.Args), x.Args.Client, mr)
		}
		r.p("| %s%s | %s | %s | %d | %.0f | **%.2f** | %s | %.1f | %.0f | %d | %.0f %% |\n", x.Args.Client, errNote(x), certKind(x.Args), cache, ok, med(rs, cpu), mr,
			strings.Join(per, ", "), med(rs, func(y childResult) float64 { return y.AllocPerReqKB }),
			med(rs, func(y childResult) float64 { return y.MallocsPerReq }), hs, res)
	}
}
