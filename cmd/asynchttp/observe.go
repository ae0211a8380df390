// The observer: what the tool records on its own, per host, because the
// pool keeps a host's counters only a while after its last connection.

package main

import (
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynchttp/asynchttp"
)

// observer counts, per "host:port", the requests, their outcomes and
// latencies, and the connections dialed and closed. Its dial method is
// Config.Dial, so it sees every connection the pool opens; a request
// carries a *reqTrace in its context, which the dial marks, so the
// observer knows whether the request went out on a new connection or a
// reused one.
type observer struct {
	start time.Time

	mu       sync.Mutex
	hosts    map[string]*hostRecord
	open     int // client-side sockets open now (dialed, not closed)
	peakOpen int
	lastSnap asynchttp.Stats
	pending  atomic.Int64 // requests started and not finished
}

// hostRecord is the tool's own record of one host.
type hostRecord struct {
	requests  int // finished, with or without a response
	responses int // a response head was read
	ok        int // a 2xx or 3xx response
	reused    int // responses that came on a reused connection
	dials     int // connections dialed successfully
	closed    int // connections closed (by the pool)
	open      int // open now
	peakOpen  int
	bytes     int64
	latencies []time.Duration // of the requests that got a response
	errs      map[string]int  // error kind → count
	closedBy  map[asynchttp.CloseReason]uint64
}

func newObserver() *observer {
	return &observer{start: time.Now(), hosts: make(map[string]*hostRecord)}
}

func (o *observer) hostLocked(key string) *hostRecord {
	h := o.hosts[key]
	if h == nil {
		h = &hostRecord{errs: make(map[string]int), closedBy: make(map[asynchttp.CloseReason]uint64)}
		o.hosts[key] = h
	}
	return h
}

type traceKey struct{}

// reqTrace follows one request.
type reqTrace struct {
	key    string
	start  time.Time
	dialed atomic.Bool // a connection was dialed for it
}

// begin starts following a request to key ("host:port") and returns the
// context to send it under.
func (o *observer) begin(ctx context.Context, key string) (context.Context, *reqTrace) {
	o.pending.Add(1)
	t := &reqTrace{key: key, start: time.Now()}
	return context.WithValue(ctx, traceKey{}, t), t
}

// outcome is how one request ended.
type outcome struct {
	status int   // 0 without a response
	bytes  int64 // body bytes read
	err    error // nil, or why there is no (complete) response
}

// end records the outcome of t's request and returns its latency and
// whether its connection was reused.
func (o *observer) end(t *reqTrace, out outcome) (time.Duration, bool) {
	o.pending.Add(-1)
	lat := time.Since(t.start)
	reused := out.status != 0 && !t.dialed.Load()
	o.mu.Lock()
	defer o.mu.Unlock()
	h := o.hostLocked(t.key)
	h.requests++
	h.bytes += out.bytes
	if out.status != 0 {
		h.responses++
		h.latencies = append(h.latencies, lat)
		if reused {
			h.reused++
		}
		if kindOf(out.status, out.err) == "" {
			h.ok++
		}
	}
	if k := kindOf(out.status, out.err); k != "" {
		h.errs[k]++
	}
	return lat, reused
}

// connClosed is Config.Events.ConnClosed: the pool's reason for each
// connection it closed, per host.
func (o *observer) connClosed(info asynchttp.ConnInfo, why asynchttp.CloseReason) {
	key, _, _ := strings.Cut(info.Host, " via ") // a proxied host's key names its proxy too
	if i := strings.Index(key, "://"); i >= 0 {
		key = key[i+3:]
	}
	o.mu.Lock()
	o.hostLocked(key).closedBy[why]++
	o.mu.Unlock()
}

// dial is Config.Dial: a net.Dialer whose connections are counted. The
// pool applies DialTimeout to ctx before calling it.
func (o *observer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if t, ok := ctx.Value(traceKey{}).(*reqTrace); ok {
		t.dialed.Store(true)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	h := o.hostLocked(addr)
	h.dials++
	h.open++
	h.peakOpen = max(h.peakOpen, h.open)
	o.open++
	o.peakOpen = max(o.peakOpen, o.open)
	o.mu.Unlock()
	return &countedConn{Conn: nc, o: o, key: addr}, nil
}

// countedConn tells the observer when the pool closes it.
type countedConn struct {
	net.Conn
	o    *observer
	key  string
	once sync.Once
}

// SyscallConn passes the socket through, so that the pool's liveness
// check (a non-blocking peek before reuse) still sees it.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

var _ syscall.Conn = (*countedConn)(nil)

func (c *countedConn) Close() error {
	// Counted closed as the close starts, as the pool counts it: the
	// pool frees the slot, then closes the socket.
	c.once.Do(func() {
		c.o.mu.Lock()
		h := c.o.hostLocked(c.key)
		h.closed++
		h.open--
		c.o.open--
		c.o.mu.Unlock()
	})
	return c.Conn.Close()
}

// snapshot takes the pool's stats and keeps them for the status line.
func (o *observer) snapshot(c *asynchttp.Client) asynchttp.Stats {
	st := c.Stats()
	o.mu.Lock()
	o.lastSnap = st
	o.mu.Unlock()
	return st
}

// hostSummary is a row of the per-host table.
type hostSummary struct {
	key                 string
	requests, responses int
	ok, reused          int
	dials, closed, peak int
	bytes               int64
	p50, p99            time.Duration
	errs                map[string]int
	closedBy            map[asynchttp.CloseReason]uint64
}

// summaries returns a copy of the per-host records, sorted by key.
func (o *observer) summaries() []hostSummary {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]hostSummary, 0, len(o.hosts))
	for key, h := range o.hosts {
		lat := slices.Clone(h.latencies)
		slices.Sort(lat)
		out = append(out, hostSummary{
			key: key, requests: h.requests, responses: h.responses,
			ok: h.ok, reused: h.reused, dials: h.dials, closed: h.closed, peak: h.peakOpen,
			bytes: h.bytes, p50: percentile(lat, 50), p99: percentile(lat, 99),
			errs: cloneMap(h.errs), closedBy: maps.Clone(h.closedBy),
		})
	}
	slices.SortFunc(out, func(a, b hostSummary) int { return compareHostPort(a.key, b.key) })
	return out
}

// allLatencies returns every recorded latency, sorted.
func (o *observer) allLatencies() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	var all []time.Duration
	for _, h := range o.hosts {
		all = append(all, h.latencies...)
	}
	slices.Sort(all)
	return all
}

// totals sums the per-host records.
func (o *observer) totals() hostSummary {
	var t hostSummary
	t.key = "total"
	t.errs = make(map[string]int)
	t.closedBy = make(map[asynchttp.CloseReason]uint64)
	for _, h := range o.summaries() {
		for r, n := range h.closedBy {
			t.closedBy[r] += n
		}
		t.requests += h.requests
		t.responses += h.responses
		t.ok += h.ok
		t.reused += h.reused
		t.dials += h.dials
		t.closed += h.closed
		t.bytes += h.bytes
		for k, n := range h.errs {
			t.errs[k] += n
		}
	}
	lat := o.allLatencies()
	t.p50, t.p99 = percentile(lat, 50), percentile(lat, 99)
	o.mu.Lock()
	t.peak = o.peakOpen
	o.mu.Unlock()
	return t
}

// percentile returns the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func cloneMap(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// compareHostPort orders "host:port" keys by host, then by numeric port.
func compareHostPort(a, b string) int {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if ha != hb {
		if ha < hb {
			return -1
		}
		return 1
	}
	if len(pa) != len(pb) {
		return len(pa) - len(pb)
	}
	if pa < pb {
		return -1
	}
	if pa > pb {
		return 1
	}
	return 0
}
