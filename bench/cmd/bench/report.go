// Aggregation over rounds (medians and spread) and the two outputs: a
// Markdown report and a hand-written SVG chart.

package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

const fasthttpVersion = "v1.70.0"

// stat is a median over rounds with the range around it.
type stat struct {
	Med, Lo, Hi float64
	N           int
}

func mkStat(xs []float64) stat {
	if len(xs) == 0 {
		return stat{Med: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Med: m, Lo: s[0], Hi: s[len(s)-1], N: len(s)}
}

// spread is the range over rounds as a percentage of the median.
func (s stat) spread() float64 {
	if s.Med == 0 || math.IsNaN(s.Med) {
		return 0
	}
	return (s.Hi - s.Lo) / s.Med * 100
}

// cell is one client in one scenario.
type cell struct {
	RPS, CPU, Allocs, Bytes, P50, P99, Conns stat
	MaxPort, MaxOpen                         int64 // worst over rounds
	Errors                                   int64
	FirstErr                                 string
	SysShare                                 float64 // sys / (user+sys), median run
	GOMAXPROCS                               int
	ClientMaxHost, ClientMaxTotal            int // crawl, client-side, worst over rounds
	Dials                                    stat
	Other                                    stat // CPUs used by other processes meanwhile
}

type table map[string]map[string]*cell // scenario -> client -> cell

func aggregate(cfg runConfig, results []childResult) table {
	t := table{}
	type series struct{ rps, cpu, al, by, p50, p99, conns, sys, dials, other []float64 }
	acc := map[[2]string]*series{}
	for _, r := range results {
		key := [2]string{r.Scenario, r.Client}
		if t[r.Scenario] == nil {
			t[r.Scenario] = map[string]*cell{}
		}
		c := t[r.Scenario][r.Client]
		if c == nil {
			c = &cell{}
			t[r.Scenario][r.Client] = c
			acc[key] = &series{}
		}
		c.Errors += r.Errors
		if c.FirstErr == "" {
			c.FirstErr = r.FirstErr
		}
		c.MaxPort = max(c.MaxPort, r.MaxPort)
		c.MaxOpen = max(c.MaxOpen, r.MaxOpen)
		c.GOMAXPROCS = r.GOMAXPROCS
		c.ClientMaxHost = max(c.ClientMaxHost, r.ClientMaxHost)
		c.ClientMaxTotal = max(c.ClientMaxTotal, r.ClientMaxTotal)
		if r.Requests == 0 {
			continue
		}
		n := float64(r.Requests)
		s := acc[key]
		s.rps = append(s.rps, n/r.Seconds)
		s.cpu = append(s.cpu, float64(r.UserUS+r.SysUS)/n)
		s.al = append(s.al, float64(r.Mallocs)/n)
		s.by = append(s.by, float64(r.Bytes)/n)
		s.p50 = append(s.p50, float64(r.P50NS)/1e3)
		s.p99 = append(s.p99, float64(r.P99NS)/1e3)
		s.conns = append(s.conns, float64(r.Accepted))
		s.sys = append(s.sys, float64(r.SysUS)/float64(max(r.UserUS+r.SysUS, 1)))
		s.dials = append(s.dials, float64(r.Dials))
		s.other = append(s.other, r.OtherCPU)
	}
	for key, s := range acc {
		c := t[key[0]][key[1]]
		c.RPS, c.CPU, c.Allocs, c.Bytes = mkStat(s.rps), mkStat(s.cpu), mkStat(s.al), mkStat(s.by)
		c.P50, c.P99, c.Conns = mkStat(s.p50), mkStat(s.p99), mkStat(s.conns)
		c.SysShare = mkStat(s.sys).Med
		c.Dials, c.Other = mkStat(s.dials), mkStat(s.other)
	}
	return t
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	if b == 0 {
		if a == 0 {
			return "1.00"
		}
		return "∞"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func num(x float64) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case x >= 10000:
		return fmt.Sprintf("%.0f", x)
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func withSpread(s stat) string {
	if math.IsNaN(s.Med) {
		return "–"
	}
	return fmt.Sprintf("%s ±%.0f%%", num(s.Med), s.spread()/2)
}

// Machine describes where the benchmark ran.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (nproc), %s%s, %s %s/%s", runtime.NumCPU(), model, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

var crawlCaps = map[string]string{
	cDo:   "MaxTotalConns=32, MaxConnsPerHost=4 (both caps)",
	cRT:   "MaxTotalConns=32, MaxConnsPerHost=4 (both caps)",
	cNet:  "MaxConnsPerHost=4 only: net/http has no total cap (MaxIdleConns caps idle conns only); not emulated",
	cFast: "MaxConnsPerHost=4 only (fasthttp.Client, waits via MaxConnWaitTimeout): no total cap; not emulated",
	cRaw:  "no cap: one conn per worker, so ≤32 open in total, but up to 8 to one host",
}

func markdown(cfg runConfig, args []string, t table) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Benchmark results (%s mode)\n\n", cfg.Mode)
	w("Generated by `%s` in `bench/` on %s, in %s.\n\n",
		strings.Join(append([]string{"go run ./cmd/bench"}, args...), " "),
		cfg.Started.UTC().Format("2006-01-02 15:04 UTC"), cfg.Elapsed.Round(time.Second))
	w("- Machine: %s.\n", machine())
	if cfg.Pinned {
		w("- Server (fasthttp %s, GOMAXPROCS=1) pinned to CPU %s, each client child pinned to CPU %s with `taskset`", fasthttpVersion, cfg.ServerCPU, cfg.ClientCPU)
	} else {
		w("- Not pinned (no `taskset` or fewer than 2 CPUs): server and client share CPUs")
	}
	gmp := 0
	for _, m := range t {
		for _, c := range m {
			gmp = max(gmp, c.GOMAXPROCS)
		}
	}
	w(" (client GOMAXPROCS=%d).\n", gmp)
	var others []float64
	for _, m := range t {
		for _, c := range m {
			others = append(others, c.Other.Med)
		}
	}
	o := mkStat(others)
	w("- Other load: while the children ran, other processes used a median of %.2f CPUs (worst client/scenario median %.2f) of the %d.", o.Med, o.Hi, runtime.NumCPU())
	if o.Med > 0.2 {
		w(" **The machine was shared: req/s and latency are noisy; CPU per request (the child's own time) much less so.**")
	}
	w("\n")
	w("- %d rounds; each run: a fresh child process, %s warm-up, %s measured window. Clients interleaved A B C D E, then E D C B A.\n", cfg.Rounds, cfg.Warmup, cfg.Dur)
	w("- Figures are medians over rounds; `±` is half the range (max−min) over rounds, as %% of the median. CPU is the child's own getrusage (user+sys) over the window ÷ requests; allocs and bytes from runtime.MemStats over the window; latency p50/p99 from a per-worker histogram (≈3%% buckets); conns = connections the server accepted during the run (warm-up included); max open = most connections open at once, counted server-side, per host / in total, worst round.\n")
	w("- Ratios: the client's median ÷ fasthttp's (×fh) and ÷ the raw bound's (×raw). For CPU, allocs, bytes and latency lower is better; for req/s higher is. `≈0` means both allocate (almost) nothing; `n/a` that the reference allocates nothing and the client does.\n")
	w("- Do and fasthttp buffer the body into a reused response; net/http and RoundTrip stream it with io.Copy to io.Discard; raw reads the known-length reply into a reused buffer. Every pooled client keeps up to %d idle connections per host (net/http's default of 2 would churn).\n\n", idlePerHost)

	// Summary: CPU ratio to fasthttp and to raw.
	cpuTable := func(title, ref string, micros bool) {
		w("%s\n\n| scenario |", title)
		for _, cl := range cfg.Clients {
			w(" %s |", cl)
		}
		w("\n|---|")
		for range cfg.Clients {
			w("---:|")
		}
		w("\n")
		for _, sc := range cfg.Scenarios {
			m := t[sc.Name]
			if m == nil {
				continue
			}
			w("| %s |", sc.Label)
			for _, cl := range cfg.Clients {
				c, r := m[cl], m[ref]
				switch {
				case c == nil || r == nil:
					w(" – |")
				case micros:
					w(" %s (%s µs) |", ratio(c.CPU.Med, r.CPU.Med), num(c.CPU.Med))
				default:
					w(" %s |", ratio(c.CPU.Med, r.CPU.Med))
				}
			}
			w("\n")
		}
	}
	cpuTable("## Client CPU per request, relative to fasthttp (lower is better)", cFast, true)
	w("\n")
	cpuTable("## Client CPU per request, relative to the raw bound", cRaw, false)
	w("\n![chart](results.svg)\n\n")

	w("## Per scenario\n\n")
	for _, sc := range cfg.Scenarios {
		m := t[sc.Name]
		if m == nil {
			continue
		}
		w("### %s\n\n", sc.Label)
		w("| client | req/s | CPU µs/req | sys %% | allocs/req | B/req | p50 µs | p99 µs | conns | max open host/total |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, cl := range cfg.Clients {
			c := m[cl]
			if c == nil {
				continue
			}
			w("| %s | %s | %s | %.0f | %s | %s | %s | %s | %.0f | %d / %d |\n", cl,
				withSpread(c.RPS), withSpread(c.CPU), c.SysShare*100, withSpread(c.Allocs), withSpread(c.Bytes),
				withSpread(c.P50), withSpread(c.P99), c.Conns.Med, c.MaxPort, c.MaxOpen)
		}
		w("\n| ratios | req/s ×fh | CPU ×fh | allocs ×fh | B ×fh | p50 ×fh | p99 ×fh | req/s ×raw | CPU ×raw | allocs ×raw | B ×raw | p50 ×raw | p99 ×raw |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, cl := range cfg.Clients {
			c := m[cl]
			if c == nil {
				continue
			}
			w("| %s | %s | %s |\n", cl, ratios(c, m[cFast]), ratios(c, m[cRaw]))
		}
		for _, cl := range cfg.Clients {
			if c := m[cl]; c != nil && c.Errors > 0 {
				w("\n%s: %d errors, first: `%s`\n", cl, c.Errors, c.FirstErr)
			}
		}
		if sc.Crawl {
			w("\nServer-side counts drop a connection at its first read error or close, and, when an accept would set a new maximum, after a sweep of the open connections for a client's FIN already on the socket (the server reads a FIN only when that connection's goroutine next runs, possibly after the next accept). The client-side count (a dial hook that counts from dial to Close) is the client's own bookkeeping.\n")
			w("\nCaps each client was given (crawl: %d workers; each takes a visit of %d GETs; %d consecutive visits go to the same host, so %d workers want one host at once and hosts rotate over all %d):\n\n",
				sc.Conc, crawlVisit, crawlSame, crawlSame, crawlHosts)
			for _, cl := range cfg.Clients {
				if c := m[cl]; c != nil {
					w("- %s: %s — client-side (dial to Close): at most %d open to one host, %d in total, %s dials per run; server-side: %d / %d.\n",
						cl, crawlCaps[cl], c.ClientMaxHost, c.ClientMaxTotal, num(c.Dials.Med), c.MaxPort, c.MaxOpen)
				}
			}
		}
		w("\n")
	}
	return b.String()
}

func ratios(c, ref *cell) string {
	if ref == nil {
		return "–"
	}
	return strings.Join([]string{
		ratio(c.RPS.Med, ref.RPS.Med), ratio(c.CPU.Med, ref.CPU.Med), countRatio(c.Allocs.Med, ref.Allocs.Med, 0.5),
		countRatio(c.Bytes.Med, ref.Bytes.Med, 8), ratio(c.P50.Med, ref.P50.Med), ratio(c.P99.Med, ref.P99.Med),
	}, " | ")
}

// countRatio is a ratio of allocation figures; a reference below floor is
// "zero" and gives no meaningful ratio: "=0" when both are, "n/a" else.
func countRatio(a, b, floor float64) string {
	if math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	if b < floor {
		if a < floor {
			return "≈0"
		}
		return "n/a"
	}
	return ratio(a, b)
}

var colors = map[string]string{
	cDo: "#1d4ed8", cRT: "#60a5fa", cNet: "#f59e0b", cFast: "#059669", cRaw: "#6b7280",
}

// chartSVG draws two panels of grouped bars: client CPU per request and
// requests/s, both relative to fasthttp (1.0 = fasthttp).
func chartSVG(cfg runConfig, t table) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	const (
		W, left, right = 960, 60, 20
		panelH, top    = 240, 70
		gap            = 90
	)
	H := top + 2*panelH + gap + 70
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	w(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	w(`<text x="%d" y="22" font-size="16" font-weight="bold">asynchttp vs net/http, fasthttp and a raw-socket bound (%s mode, %d rounds)</text>`+"\n", left, cfg.Mode, cfg.Rounds)
	sub := machine()
	var others []float64
	for _, m := range t {
		for _, c := range m {
			others = append(others, c.Other.Med)
		}
	}
	if o := mkStat(others); o.Med > 0.2 {
		sub += fmt.Sprintf("; shared: others used %.1f CPUs", o.Med)
	}
	w(`<text x="%d" y="40" fill="#444">%s</text>`+"\n", left, html.EscapeString(sub))
	// Legend.
	x := left
	for _, cl := range cfg.Clients {
		w(`<rect x="%d" y="50" width="12" height="12" fill="%s"/><text x="%d" y="60">%s</text>`+"\n", x, colors[cl], x+16, html.EscapeString(cl))
		x += 30 + 8*len(cl)
	}
	panel := func(y0 int, title string, get func(*cell) float64, lowerBetter bool) {
		plotW := W - left - right
		// Scale.
		maxv := 1.0
		for _, sc := range cfg.Scenarios {
			for _, cl := range cfg.Clients {
				if c, ref := t[sc.Name][cl], t[sc.Name][cFast]; c != nil && ref != nil && get(ref) > 0 {
					if v := get(c) / get(ref); !math.IsNaN(v) && !math.IsInf(v, 0) {
						maxv = math.Max(maxv, v)
					}
				}
			}
		}
		maxv = math.Min(math.Ceil(maxv*2)/2, 4)
		yOf := func(v float64) float64 { return float64(y0+panelH) - math.Min(v, maxv)/(maxv*1.12)*float64(panelH) }
		hint := "higher is better"
		if lowerBetter {
			hint = "lower is better"
		}
		w(`<text x="%d" y="%d" font-weight="bold">%s <tspan font-weight="normal" fill="#444">(÷ fasthttp, %s)</tspan></text>`+"\n", left, y0-8, html.EscapeString(title), hint)
		for v := 0.0; v <= maxv+1e-9; v += 0.5 {
			y := yOf(v)
			stroke := "#e5e7eb"
			if v == 1 {
				stroke = "#111"
			}
			w(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"%s/>`+"\n", left, y, W-right, y, stroke, map[bool]string{true: ` stroke-dasharray="4 3"`, false: ""}[v == 1])
			w(`<text x="%d" y="%.1f" text-anchor="end" fill="#444">%.1f</text>`+"\n", left-6, y+4, v)
		}
		n := len(cfg.Scenarios)
		gw := float64(plotW) / float64(n)
		bw := (gw - 16) / float64(len(cfg.Clients))
		for i, sc := range cfg.Scenarios {
			gx := float64(left) + float64(i)*gw + 8
			for j, cl := range cfg.Clients {
				c, ref := t[sc.Name][cl], t[sc.Name][cFast]
				if c == nil || ref == nil || get(ref) == 0 {
					continue
				}
				v := get(c) / get(ref)
				if math.IsNaN(v) {
					continue
				}
				bx := gx + float64(j)*bw
				y := yOf(v)
				w(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.2f× fasthttp</title></rect>`+"\n",
					bx, y, bw-2, float64(y0+panelH)-y, colors[cl], html.EscapeString(cl), html.EscapeString(sc.Label), v)
				label := fmt.Sprintf("%.2f", v)
				if v > maxv {
					label = "▲" + label
				}
				w(`<text x="%.1f" y="%.1f" font-size="9" text-anchor="start" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
					bx+(bw-2)/2+3, y-3, bx+(bw-2)/2+3, y-3, label)
			}
		}
		for i, sc := range cfg.Scenarios {
			gx := float64(left) + float64(i)*gw + gw/2
			w(`<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s</text>`+"\n", gx, y0+panelH+16, html.EscapeString(shortLabel(sc)))
		}
		w(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#111"/>`+"\n", left, y0+panelH, W-right, y0+panelH)
	}
	panel(top+20, "Client CPU per request", func(c *cell) float64 { return c.CPU.Med }, true)
	panel(top+20+panelH+gap, "Requests per second", func(c *cell) float64 { return c.RPS.Med }, false)
	w("</svg>\n")
	return b.String()
}

func shortLabel(sc scenario) string {
	switch sc.Name {
	case "crawl":
		return "crawl 64 hosts"
	case "post-c16":
		return "c=16 POST 1 KiB"
	case "close-c8":
		return "c=8 conn close"
	}
	return sc.Label
}
