// The embedded demo: a site of local hosts on 127.0.0.1 with slow pages,
// early-closing servers, a host that is down and one that answers 503,
// crawled under a total and a per-host cap.

package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynchttp/asynchttp"
)

const demoHead = `Usage: asynchttp [demo] [flags]

Starts a site on 127.0.0.1 — -hosts "hosts", one port each, serving linked
pages: links across hosts, slow pages on two hosts, one host whose server
closes idle keep-alive connections after 10ms, one that sends
"Connection: close" on every third response, one that answers 503 and one
that is down (a port with nothing listening) — and crawls it through one
Client under a total and a per-host connection cap. On a terminal a status
line shows the progress; at the end a per-host table (with the pool's close
reasons per host) and the pool's totals. No traffic leaves 127.0.0.1.

The Config flags default to values that make every close reason show up in
a few seconds (-max-total-conns 24 -max-conns-per-host 2 -idle-timeout
300ms -max-conn-lifetime 1s); the other commands use the library's.
`

// serverIdleClose is how long the "closes idle" host keeps an idle
// keep-alive connection: much less than the client's IdleTimeout, so the
// pool meets connections the server has closed.
const serverIdleClose = 10 * time.Millisecond

// Demo host roles.
const (
	roleOK        = "ok"
	roleSlow      = "slow pages"
	roleIdleClose = "closes idle"
	roleConnClose = "conn: close"
	role503       = "503"
	roleDown      = "down"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoHead)
	var cf configFlags
	cf.register(fs, asynchttp.Config{
		MaxTotalConns:   24,
		MaxConnsPerHost: 2,
		IdleTimeout:     300 * time.Millisecond,
		MaxConnLifetime: time.Second,
		// The 503 host's answers are retried once after its Retry-After,
		// and the hosts that keep failing (it, and the one down) are
		// ejected by their breaker.
		Retry:   asynchttp.RetryPolicy{MaxAttempts: 2, MaxRetryAfter: 2 * time.Second},
		Breaker: asynchttp.BreakerPolicy{Failures: 3, Cooldown: 2 * time.Second},
	})
	fs.IntVar(&cf.cfg.MaxTotalConns, "total", cf.cfg.MaxTotalConns, "short for -max-total-conns")
	fs.IntVar(&cf.cfg.MaxConnsPerHost, "per-host", cf.cfg.MaxConnsPerHost, "short for -max-conns-per-host")
	hosts := fs.Int("hosts", 16, "local hosts to start (at least 6), one port each")
	pages := fs.Int("pages", 40, "pages per host")
	inflight := fs.Int("c", 24, "requests in flight at once")
	think := fs.Duration("think", 100*time.Millisecond, "the servers' longest think time per page (each page takes a fixed share of it)")
	slow := fs.Duration("slow", 400*time.Millisecond, "how long the slow pages take")
	maxTime := fs.Duration("max-time", 15*time.Second, "stop the crawl after this long")
	serve := fs.Duration("serve", 0, "only serve the demo site for this long (or until Ctrl-C), printing its seed URLs and hosts: for crawling it with crawl (e.g. a fleet, scripts/fleet-demo.sh)")
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	switch {
	case *hosts < 6 || *hosts > 256:
		fmt.Fprintln(stderr, "asynchttp demo: -hosts must be between 6 and 256")
		return exitUsage
	case *pages < 1 || *pages > 10000:
		fmt.Fprintln(stderr, "asynchttp demo: -pages must be between 1 and 10000")
		return exitUsage
	case *inflight < 1:
		fmt.Fprintln(stderr, "asynchttp demo: -c must be positive")
		return exitUsage
	}

	site, err := startSite(*hosts, *pages, *think, *slow)
	if err != nil {
		fmt.Fprintf(stderr, "asynchttp demo: starting the local site: %v\n", err)
		return exitFailed
	}
	defer site.close()
	if *serve > 0 {
		return serveSite(ctx, site, *serve, stdout)
	}

	fmt.Fprintf(stdout, "asynchttp demo: %d hosts on 127.0.0.1 (ports %s), %d pages each\n",
		*hosts, site.portRange(), *pages)
	fmt.Fprintf(stdout, "  roles: %s\n", site.roleSummary())
	fmt.Fprintf(stdout, "  crawl: %s, %d requests in flight\n\n", cf.describe(), *inflight)

	var seeds []*url.URL
	var allow []string
	for _, h := range site.hosts {
		allow = append(allow, h.addr)
		if h.role != roleDown && h.role != role503 {
			seeds = append(seeds, &url.URL{Scheme: "http", Host: h.addr, Path: "/p/0"})
		}
	}
	cctx, cancel := context.WithTimeout(ctx, *maxTime)
	defer cancel()
	opt := crawlOptions{
		seeds: seeds, allow: allow, depth: 1 << 20, maxPages: 4 * (*hosts) * (*pages),
		inflight: *inflight, timeout: 5 * time.Second, maxHTML: 1 << 20,
	}
	res, _ := crawlAndReport(cctx, cf, opt, stdout, stderr, site.role)
	peak, hostPeaks := site.conns.peaks()
	perHost := 0
	for _, n := range hostPeaks {
		perHost = max(perHost, n)
	}
	fmt.Fprintf(stdout, "servers saw at most %d connections open at once, at most %d to one host\n", peak, perHost)
	if ctx.Err() == nil && cctx.Err() != nil {
		fmt.Fprintf(stdout, "stopped after -max-time %v\n", *maxTime)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "try next: go run ./cmd/asynchttp demo -total 4 -per-host 1   (tight caps: requests queue, idle conns are evicted, p99 grows)")
	fmt.Fprintln(stdout, "          go run ./cmd/asynchttp crawl -h                     (and get -h, bench -h: the same pool against your own servers)")
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case res.pages == 0:
		return exitFailed
	}
	return exitOK
}

// site is the demo's local hosts.
type site struct {
	hosts   []*siteHost
	servers []*http.Server
	wg      sync.WaitGroup
	conns   *connCounter
}

type siteHost struct {
	addr string // 127.0.0.1:port
	role string
}

// startSite starts n hosts of pages pages each; the last is down.
func startSite(n, pages int, think, slow time.Duration) (*site, error) {
	s := &site{conns: newConnCounter()}
	roles := make([]string, n)
	for i := range roles {
		roles[i] = roleOK
	}
	roles[1], roles[2] = roleSlow, roleSlow
	roles[n-4], roles[n-3], roles[n-2], roles[n-1] = roleConnClose, roleIdleClose, role503, roleDown
	// Every address is known before any server starts: pages link to all.
	lns := make([]net.Listener, n)
	for i, role := range roles {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			return nil, err
		}
		s.hosts = append(s.hosts, &siteHost{addr: ln.Addr().String(), role: role})
		lns[i] = ln
	}
	for i, role := range roles {
		if role == roleDown {
			lns[i].Close() // the port was free a moment ago: nothing listens there now
			continue
		}
		srv := &http.Server{
			Handler:   s.handler(i, role, pages, think, slow),
			ConnState: s.conns.connState,
			ErrorLog:  discardLog,
		}
		if role == roleIdleClose {
			srv.IdleTimeout = serverIdleClose
		}
		s.servers = append(s.servers, srv)
		ln := lns[i]
		s.wg.Go(func() { srv.Serve(ln) })
	}
	return s, nil
}

func (s *site) close() {
	for _, srv := range s.servers {
		srv.Close()
	}
	s.wg.Wait()
}

func (s *site) role(key string) string {
	for _, h := range s.hosts {
		if h.addr == key {
			return h.role
		}
	}
	return ""
}

// serveSite keeps the site up for d or until ctx ends, after printing
// one line "seeds URL..." and one "allow HOST:PORT,..." for crawl's
// arguments.
func serveSite(ctx context.Context, s *site, d time.Duration, stdout io.Writer) int {
	var seeds, allow []string
	for _, h := range s.hosts {
		allow = append(allow, h.addr)
		if h.role != roleDown && h.role != role503 {
			seeds = append(seeds, "http://"+h.addr+"/p/0")
		}
	}
	fmt.Fprintf(stdout, "seeds %s\nallow %s\n", strings.Join(seeds, " "), strings.Join(allow, ","))
	if f, ok := stdout.(interface{ Sync() error }); ok {
		f.Sync()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return exitOK
}

func (s *site) portRange() string {
	lo, hi := 1<<16, 0
	for _, h := range s.hosts {
		_, p, _ := net.SplitHostPort(h.addr)
		n, _ := strconv.Atoi(p)
		lo, hi = min(lo, n), max(hi, n)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

func (s *site) roleSummary() string {
	count := map[string]int{}
	for _, h := range s.hosts {
		count[h.role]++
	}
	return fmt.Sprintf("%d ok, %d with slow pages, 1 closes idle conns after %v, 1 sends Connection: close every 3rd response, 1 answers 503, 1 down",
		count[roleOK], count[roleSlow], serverIdleClose)
}

// handler serves host i's pages: /p/N (HTML with links) and /img/N.png.
func (s *site) handler(i int, role string, pages int, think, slow time.Duration) http.Handler {
	var served sync.Mutex
	nserved := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if role == role503 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "503 service unavailable: this host is overloaded (on purpose)", http.StatusServiceUnavailable)
			return
		}
		if role == roleConnClose {
			served.Lock()
			nserved++
			closeNow := nserved%3 == 0
			served.Unlock()
			if closeNow {
				w.Header().Set("Connection", "close")
			}
		}
		path := r.URL.Path
		switch {
		case strings.HasPrefix(path, "/p/"):
			p, err := strconv.Atoi(path[len("/p/"):])
			if err != nil || p < 0 || p >= pages {
				http.NotFound(w, r)
				return
			}
			d := think * time.Duration((p*37+i*11)%100) / 100
			if role == roleSlow && p%4 == 3 {
				d = slow
			}
			if !sleepCtx(r.Context(), d) {
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			s.writePage(w, i, p, pages)
		case strings.HasPrefix(path, "/img/"):
			w.Header().Set("Content-Type", "image/png")
			w.Write(imageBody)
		default:
			http.NotFound(w, r)
		}
	})
}

// discardLog silences the servers' error logs (clients vanishing on
// purpose are not news).
var discardLog = log.New(io.Discard, "", 0)

// imageBody is a fake image: the crawler abandons it after its head, and
// at 48 KiB the rest is drained and the connection kept.
var imageBody = make([]byte, 48<<10)

// writePage writes page p of host i: links to pages of the same host and
// of others (the down and the 503 host included), and now and then an
// image.
func (s *site) writePage(w io.Writer, i, p, pages int) {
	n := len(s.hosts)
	link := func(h, q int) string {
		return fmt.Sprintf(`<li><a href="http://%s/p/%d">host %d page %d</a></li>`, s.hosts[h%n].addr, q%pages, h%n, q%pages)
	}
	fmt.Fprintf(w, "<!doctype html><html><head><title>host %d page %d</title></head><body><h1>host %d, page %d</h1><ul>\n", i, p, i, p)
	fmt.Fprintln(w, link(i, p+1))
	fmt.Fprintln(w, link(i, p*3+2))
	fmt.Fprintf(w, `<li><a href="/p/%d#top">same host, relative</a></li>`+"\n", (p*7+5)%pages)
	fmt.Fprintln(w, link(i+1+p, p*5+1))
	fmt.Fprintln(w, link(i+3+2*p, p+3))
	if p%5 == 0 {
		fmt.Fprintf(w, `<li><a href="/img/%d.png">an image</a></li>`+"\n", p)
	}
	fmt.Fprintln(w, "</ul><p>"+strings.Repeat("Lorem ipsum dolor sit amet. ", 40)+"</p></body></html>")
}

// sleepCtx sleeps for d or until ctx ends; it reports whether it slept
// the whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
