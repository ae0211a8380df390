// crawl: a breadth-first crawler on futures and streaming handlers, shared
// by the crawl command and the demo.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynchttp/asynchttp"
)

// crawlOptions are a crawl's knobs (the Config is separate).
type crawlOptions struct {
	seeds     []*url.URL
	allow     []string // "host", "host:port" or "*"; empty: the seeds' host:port
	depth     int
	maxPages  int
	inflight  int                  // requests in flight at once (a Group's limit)
	policy    asynchttp.HostPolicy // every host's (rate, delay, adaptive); a Crawl-delay lengthens its Delay
	robots    bool                 // fetch and obey each host's robots.txt
	hostSlots int                  // URLs of one host in flight at once; 0: no cap
	timeout   time.Duration        // per request; 0: none
	maxHTML   int                  // HTML bytes kept per page for link extraction
	fleet     *fleet               // crawl as one worker of a fleet (-redis), or nil
	json      io.Writer            // one record per page, or nil
	metrics   string               // serve Prometheus metrics here (-metrics), or ""
}

// crawlResult sums up a crawl.
type crawlResult struct {
	done, pages, skipped, failed int // requests finished; HTML pages read; non-HTML skipped; failures
	disallowed                   int // URLs robots.txt did not allow
	firstErr                     string
	found, queued                int
	elapsed                      time.Duration
}

// crawlFrontier is where a crawl takes its URLs: the local frontier, or a
// fleet's frontier in Redis (fleet.go).
type crawlFrontier interface {
	add(items ...crawlItem)
	next(ctx context.Context) (crawlItem, bool)
	done(it crawlItem)
	counts() (found, queued int)
}

// crawler runs one crawl.
type crawler struct {
	c      *asynchttp.Client
	o      *observer
	opt    crawlOptions
	fr     crawlFrontier
	allow  func(key string) bool
	robots *robots // nil: robots.txt is not read
	// robotsWait counts the fetches waiting for their host's robots.txt:
	// run waits for them before the group, which they may still use.
	robotsWait sync.WaitGroup
	start      time.Time

	done, pages, skipped, failed, disallowed atomic.Int64
	crawlDelays                              atomic.Int64 // hosts whose robots.txt set a Crawl-delay

	jsonMu sync.Mutex
	enc    *json.Encoder

	errMu    sync.Mutex
	firstErr string // the first failure, described for a user
}

// pageRecord is the JSON record of one page (crawl -json).
type pageRecord struct {
	URL         string  `json:"url"`
	Depth       int     `json:"depth"`
	Status      int     `json:"status,omitempty"`
	ContentType string  `json:"content_type,omitempty"`
	Bytes       int64   `json:"bytes"`
	Links       int     `json:"links"`
	Skipped     bool    `json:"skipped,omitempty"` // not HTML: the body was not read
	Reused      bool    `json:"reused"`            // sent on a reused connection
	Millis      float64 `json:"ms"`
	Error       string  `json:"error,omitempty"`
	ErrorKind   string  `json:"error_kind,omitempty"`
}

// allowFunc returns the host filter of a crawl.
func allowFunc(seeds []*url.URL, allow []string) func(key string) bool {
	exact := make(map[string]bool)
	anyPort := make(map[string]bool)
	all := false
	if len(allow) == 0 {
		for _, s := range seeds {
			exact[hostPort(s)] = true
		}
	}
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == "*":
			all = true
		case strings.Contains(a, ":") && !strings.HasSuffix(a, "]"):
			if h, p, err := net.SplitHostPort(a); err == nil {
				exact[net.JoinHostPort(h, p)] = true
			} else {
				anyPort[strings.Trim(a, "[]")] = true // a bare IPv6 address
			}
		case a != "":
			anyPort[strings.Trim(a, "[]")] = true
		}
	}
	return func(key string) bool {
		if all || exact[key] {
			return true
		}
		h, _, err := net.SplitHostPort(key)
		return err == nil && anyPort[h]
	}
}

// newCrawler returns a crawl with c, recording into o, its seeds queued.
func newCrawler(c *asynchttp.Client, o *observer, opt crawlOptions) *crawler {
	cr := &crawler{
		c: c, o: o, opt: opt,
		fr:    newFrontier(opt.maxPages, opt.hostSlots),
		allow: allowFunc(opt.seeds, opt.allow),
		start: time.Now(),
	}
	if opt.fleet != nil {
		cr.fr = opt.fleet.frontier(opt.maxPages)
	}
	if opt.robots {
		cr.robots = newRobots(c, userAgent, func(host string, d time.Duration) {
			pol := opt.policy
			if d > pol.Delay {
				pol.Delay = d
				if c.SetHostPolicy(host, pol) == nil {
					cr.crawlDelays.Add(1)
				}
			}
		})
	}
	if opt.json != nil {
		cr.enc = json.NewEncoder(opt.json)
	}
	for _, s := range opt.seeds {
		cr.fr.add(crawlItem{u: s, key: hostPort(s), depth: 0})
	}
	return cr
}

// run crawls until the frontier is exhausted or ctx ends, and returns once
// every request it started is done.
func (cr *crawler) run(ctx context.Context) crawlResult {
	g := asynchttp.NewGroup(cr.c, cr.opt.inflight)
	for {
		it, ok := cr.fr.next(ctx)
		if !ok {
			break
		}
		cr.fetch(ctx, g, it)
	}
	cr.robotsWait.Wait()
	g.Wait()
	found, queued := cr.fr.counts()
	return crawlResult{
		done: int(cr.done.Load()), pages: int(cr.pages.Load()), skipped: int(cr.skipped.Load()),
		failed: int(cr.failed.Load()), disallowed: int(cr.disallowed.Load()), firstErr: cr.firstErr,
		found: found, queued: queued, elapsed: time.Since(cr.start),
	}
}

// statusText is the crawl's live status line.
func (cr *crawler) statusText(st asynchttp.Stats) string {
	found, _ := cr.fr.counts()
	done := int(cr.done.Load())
	return fmt.Sprintf("pages %d/%d found · %.0f/s · %d errors · %s",
		done, found, rate(done, time.Since(cr.start)), cr.failed.Load(), poolPart(st))
}

// userAgent is what the crawler calls itself, to servers and to their
// robots.txt.
const userAgent = "asynchttp-crawl/1"

// fetch starts one page through the group, once its host's robots.txt
// allows it (read first, in the background, when the crawl obeys it).
func (cr *crawler) fetch(ctx context.Context, g *asynchttp.Group, it crawlItem) {
	if cr.robots == nil {
		cr.send(ctx, g, it)
		return
	}
	// Once the host's robots.txt is read, the answer needs no goroutine.
	if ok, known := cr.robots.known(it.u); known {
		cr.sendIfAllowed(ctx, g, it, ok, nil)
		return
	}
	cr.robotsWait.Go(func() {
		ok, err := cr.robots.allowed(ctx, it.u)
		cr.sendIfAllowed(ctx, g, it, ok, err)
	})
}

// sendIfAllowed sends a page robots.txt allows; a disallowed one is
// recorded as such, and one whose wait for robots.txt failed (the crawl
// ends) is dropped.
func (cr *crawler) sendIfAllowed(ctx context.Context, g *asynchttp.Group, it crawlItem, ok bool, err error) {
	if err != nil || !ok {
		if err == nil {
			cr.disallowed.Add(1)
			cr.record(pageRecord{URL: it.u.String(), Depth: it.depth, Error: "disallowed by robots.txt", ErrorKind: "robots"})
		}
		cr.fr.done(it)
		return
	}
	cr.send(ctx, g, it)
}

// record writes a page's JSON record (crawl -json).
func (cr *crawler) record(rec pageRecord) {
	if cr.enc == nil {
		return
	}
	cr.jsonMu.Lock()
	cr.enc.Encode(rec) // a broken pipe only loses records
	cr.jsonMu.Unlock()
}

// send starts one page through the group; its completion callback records
// it and queues its links.
func (cr *crawler) send(ctx context.Context, g *asynchttp.Group, it crawlItem) {
	rctx, trace := cr.o.begin(ctx, it.key)
	var cancel context.CancelFunc = func() {}
	if cr.opt.timeout > 0 {
		rctx, cancel = context.WithTimeout(rctx, cr.opt.timeout)
	}
	req := asynchttp.AcquireRequest()
	req.SetRequestURI(it.u.String())
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "text/html,*/*;q=0.5")
	h := &pageHandler{maxHTML: cr.opt.maxHTML}
	f := g.ExecuteHandler(rctx, req, h)
	f.OnComplete(func(resp *asynchttp.Response, err error) {
		defer cr.fr.done(it)
		defer cancel()
		defer asynchttp.ReleaseRequest(req) // the Future is done: req is ours again
		defer func() {
			if resp != nil {
				asynchttp.ReleaseResponse(resp)
			}
		}()
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		lat, reused := cr.o.end(trace, outcome{status: status, bytes: h.size, err: err})
		cr.done.Add(1)
		if k := kindOf(status, err); k != "" {
			cr.failed.Add(1)
			cr.errMu.Lock()
			if cr.firstErr == "" {
				if err != nil && k != "canceled" {
					cr.firstErr = it.u.String() + ": " + describe(err, it.key)
				} else if status != 0 {
					cr.firstErr = fmt.Sprintf("%s: %d %s", it.u, status, resp.Reason())
				}
			}
			cr.errMu.Unlock()
		}
		var links []*url.URL
		switch {
		case h.skipped:
			cr.skipped.Add(1)
		case err == nil && status >= 200 && status < 300:
			cr.pages.Add(1)
			links = extractLinks(it.u, h.body)
		}
		if h.location != "" {
			if u := resolve(it.u, h.location); u != nil {
				links = append(links, u)
			}
		}
		if it.depth < cr.opt.depth && ctx.Err() == nil {
			var next []crawlItem
			for _, u := range links {
				if k := hostPort(u); cr.allow(k) {
					next = append(next, crawlItem{u: u, key: k, depth: it.depth + 1})
				}
			}
			cr.fr.add(next...)
		}
		if cr.enc != nil {
			rec := pageRecord{
				URL: it.u.String(), Depth: it.depth, Status: status, ContentType: h.ctype,
				Bytes: h.size, Links: len(links), Skipped: h.skipped, Reused: reused,
				Millis: float64(lat.Microseconds()) / 1000,
			}
			if err != nil && !errors.Is(err, asynchttp.ErrAborted) {
				rec.Error, rec.ErrorKind = err.Error(), errKind(err)
			}
			cr.record(rec)
		}
	})
}

// pageHandler streams a response: it aborts at the head when the body is
// not HTML (or not wanted), and keeps up to maxHTML bytes of HTML for link
// extraction.
type pageHandler struct {
	maxHTML  int
	status   int
	ctype    string
	location string
	sniff    bool // no Content-Type: decide on the first body part
	skipped  bool
	size     int64
	body     []byte
}

func (h *pageHandler) OnStatus(resp *asynchttp.Response) asynchttp.Action {
	h.status = resp.StatusCode
	return asynchttp.Continue
}

func (h *pageHandler) OnHeaders(resp *asynchttp.Response) asynchttp.Action {
	h.ctype = resp.Header.Get("Content-Type")
	if h.status >= 300 && h.status < 400 {
		h.location = resp.Header.Get("Location")
	}
	if h.status < 200 || h.status >= 300 {
		return asynchttp.Abort // an error page or a redirect: its body is not wanted
	}
	if h.ctype == "" {
		h.sniff = true
		return asynchttp.Continue
	}
	if !isHTML(h.ctype) {
		h.skipped = true
		return asynchttp.Abort
	}
	return asynchttp.Continue
}

func (h *pageHandler) OnBodyPart(part []byte) asynchttp.Action {
	if h.sniff {
		h.sniff = false
		if !isHTML(http.DetectContentType(part)) {
			h.skipped = true
			h.size += int64(len(part))
			return asynchttp.Abort
		}
	}
	h.size += int64(len(part))
	if room := h.maxHTML - len(h.body); room > 0 {
		h.body = append(h.body, part[:min(room, len(part))]...)
	}
	return asynchttp.Continue
}

func (h *pageHandler) OnComplete(*asynchttp.Response) {}
func (h *pageHandler) OnError(error)                  {}

// isHTML reports whether a Content-Type is HTML (or XHTML).
func isHTML(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}
