// Config, New, Close and Stats: the Client's public face.

package asynchttp

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// IdleOrder chooses which idle connection of a host is reused first.
type IdleOrder int

const (
	// LIFO reuses the most recently idled connection: it is the least likely
	// to have hit the server's keep-alive timeout, and lets surplus
	// connections age out. The default.
	LIFO IdleOrder = iota
	// FIFO reuses the connection idle the longest, spreading requests over
	// every idle connection.
	FIFO
)

func (o IdleOrder) String() string {
	if o == FIFO {
		return "FIFO"
	}
	return "LIFO"
}

// Config tunes a Client. The zero Config is ready to use: each zero field
// selects the default named in its comment. A Config is copied by New;
// changing it afterwards has no effect.
type Config struct {
	// MaxTotalConns caps the connections open across all hosts: dialing,
	// in use and idle. Zero means no cap. When the cap is reached and
	// another host holds idle connections, the least recently used of them
	// is closed to make room.
	MaxTotalConns int

	// MaxConnsPerHost caps the connections open to one host (scheme, host
	// and port), dialing included. Zero means no cap.
	MaxConnsPerHost int

	// MaxIdleConnsPerHost caps the idle connections kept per host; it is
	// checked when a connection is offered back, and a connection over the
	// cap is closed. Zero means DefaultMaxIdleConnsPerHost; negative keeps
	// no idle connection at all (every request dials).
	MaxIdleConnsPerHost int

	// MaxIdleConns caps the idle connections kept across all hosts: when
	// a connection going idle would pass it, the least recently used idle
	// connection of any host is closed (CloseIdleCap). Zero means
	// DefaultMaxIdleConns (128); negative means no cap. The trade-off: a
	// crawl over many hosts keeps few sockets and little memory, at the
	// cost of a new connection for a host that comes back after more
	// than that many others.
	MaxIdleConns int

	// MaxPendingPerHost caps the callers waiting for a connection to one
	// host; the next one gets ErrTooManyPending. Zero means no cap.
	MaxPendingPerHost int

	// AcquireTimeout is how long a caller waits for a free connection slot
	// when a cap is reached. Negative: fail at once with ErrTooManyConns.
	// Zero: wait until the caller's context ends. Positive: wait at most
	// that long, then fail with a *TimeoutError wrapping ErrTooManyConns.
	AcquireTimeout time.Duration

	// AcquireTimeoutAction is what a caller does when its AcquireTimeout
	// passes while its host is at its cap (MaxConnsPerHost, its
	// HostPolicy's MaxConns or adaptive limit): AcquireTimeoutFail (the
	// zero value) fails; AcquireTimeoutNew dials past the host's cap, as
	// Netty's AcquireTimeoutAction.NEW, when MaxTotalConns leaves room —
	// MaxTotalConns is never exceeded. Such connections count in
	// HostStats.OverLimitDials and close when released while the host is
	// still over its cap (CloseOverLimit). It matters only when
	// AcquireTimeout is positive.
	AcquireTimeoutAction AcquireTimeoutAction

	// MaxConcurrentDials caps the dials in flight across the Client: TCP
	// connects (with their name lookups and proxy CONNECTs) and TLS
	// handshakes, each from its start to the connection's readiness. A
	// caller waits for a dial slot within its context (Close ends the
	// wait); Stats counts such waits (DialWaits, DialWaitTime). Zero or
	// negative means no cap.
	MaxConcurrentDials int

	// MaxConcurrentHandshakes caps the TLS handshakes in flight across the
	// Client. A handshake in flight holds its key shares (about 10 KiB
	// with Go's default hybrid key exchange) until the server answers, and
	// a burst of new HTTPS connections otherwise starts them all at once:
	// the cap bounds that memory (and the heap fragmentation it leaves
	// behind). It does not slow a burst whose handshakes queue for the
	// CPU anyway; over long round trips, a burst past the cap waits for
	// earlier handshakes to end. A new connection waits for a slot after
	// its TCP connect (an https proxy's handshake takes a slot too),
	// within its context and TLSHandshakeTimeout (Close ends the wait);
	// Stats counts such waits (HandshakeWaits, HandshakeWaitTime). Zero
	// means DefaultHandshakesPerCPU per CPU, at least MinDefaultHandshakes
	// (256 on a machine of up to 2 CPUs); negative means no cap.
	MaxConcurrentHandshakes int

	// IdleTimeout closes a connection idle for longer than this since its
	// last use. Zero means DefaultIdleTimeout; negative means never.
	IdleTimeout time.Duration

	// MaxConnLifetime stops reusing a connection older than this since it
	// was created: it is closed when it next falls idle or is found idle.
	// Zero means forever.
	MaxConnLifetime time.Duration

	// LifetimeJitter spreads the retirement of connections made together:
	// each one's lifetime is MaxConnLifetime × (1 − LifetimeJitter × u),
	// u drawn uniformly from [0, 1), so it never exceeds MaxConnLifetime.
	// Zero means no jitter; values are clamped to [0, 1].
	LifetimeJitter float64

	// MaxRequestsPerConn retires a connection after it has served this
	// many requests. Zero means no limit. The request that retires a
	// connection, by count or by lifetime, goes out with "Connection:
	// close".
	MaxRequestsPerConn int

	// IdleOrder picks which idle connection is reused first: LIFO (the
	// default) or FIFO.
	IdleOrder IdleOrder

	// DialTimeout bounds connection establishment (TCP connect). Zero means
	// DefaultDialTimeout; negative means no timeout beyond the context.
	DialTimeout time.Duration

	// TLSHandshakeTimeout bounds the TLS handshake of https connections.
	// Zero means DefaultTLSHandshakeTimeout; negative means no timeout
	// beyond the context.
	TLSHandshakeTimeout time.Duration

	// ResponseHeaderTimeout bounds the wait for a response's header section
	// once the request has been written. Zero means no timeout beyond the
	// context.
	ResponseHeaderTimeout time.Duration

	// ExpectContinueTimeout is how long a request carrying "Expect:
	// 100-continue" waits for "100 Continue" before sending its body
	// anyway. A final response that comes first is returned and the body
	// is never sent (the connection is then closed). Zero means
	// DefaultExpectContinueTimeout; negative sends the body at once.
	ExpectContinueTimeout time.Duration

	// MaxResponseHeaderBytes bounds the status line and header section of a
	// response (and of each interim 1xx response). Zero means
	// DefaultMaxResponseHeaderBytes.
	MaxResponseHeaderBytes int

	// MaxResponseBodyBytes bounds a response body. For bodies buffered by
	// Do, zero means DefaultMaxResponseBodyBytes. Bodies streamed through
	// RoundTrip are bounded only when this is positive. Negative means no
	// bound anywhere.
	MaxResponseBodyBytes int64

	// Dial opens the TCP connection for a host ("host:port"). Nil means a
	// net.Dialer with DialTimeout. For https the client runs the TLS
	// handshake over the returned connection. The liveness check of idle
	// connections needs the returned conn (or, for a *tls.Conn, the conn
	// under it) to implement syscall.Conn: a wrapper should pass
	// SyscallConn through, or its idle conns are reused unchecked (a
	// request failing on one is still retried when that is safe).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// LookupHost resolves a host name to IP addresses. New connections to
	// a host are spread round-robin over its addresses; an address that
	// fails to connect is skipped for AddrCooldown (and the next one tried
	// at once); the set is resolved again when older than AddrTTL. Nil
	// means net.DefaultResolver.LookupHost when Dial is nil; with a custom
	// Dial and no LookupHost, host names go to Dial unresolved. One lookup
	// of a name serves every dial waiting for it, so it runs under a
	// context of its own (bounded by DialTimeout, ended by Close) that
	// carries none of the callers' values; each caller's httptrace
	// DNSStart and DNSDone report it.
	LookupHost func(ctx context.Context, host string) ([]string, error)

	// AddrTTL is how long resolved addresses are used before resolving
	// again. Zero means DefaultAddrTTL; negative resolves for every new
	// connection.
	AddrTTL time.Duration

	// AddrCooldown is how long an address that failed to connect is
	// skipped while others remain. Zero means DefaultAddrCooldown;
	// negative never skips.
	AddrCooldown time.Duration

	// TLSConfig is used for https connections. Nil means the zero
	// tls.Config; ServerName is set from the request's host when empty.
	TLSConfig *tls.Config

	// DisableTLSSessionCache turns off TLS session resumption. By default
	// a Client keeps the sessions of up to DefaultTLSSessionCacheSize
	// server names (an LRU cache), so that a new connection to a host it
	// has met resumes instead of paying a full handshake; a TLSConfig
	// with its own ClientSessionCache uses that one instead.
	DisableTLSSessionCache bool

	// Proxy returns the proxy for a request, or nil for a direct
	// connection (see ProxyFromEnvironment). Schemes: "http" and "https"
	// proxies (plain HTTP proxying in absolute-form for http:// targets, a
	// CONNECT tunnel for https:// ones; user info in the URL becomes
	// Proxy-Authorization), and "socks5"/"socks5h" (golang.org/x/net/proxy;
	// the proxy resolves the name). The proxy is part of the host key: caps
	// and idle conns are per target and proxy. For Do, Proxy sees a minimal
	// *http.Request holding the method, scheme, host and Host header. Nil
	// means no proxy.
	Proxy func(*http.Request) (*url.URL, error)

	// Bootstrap, when set, runs on every new connection (after the TLS
	// handshake) before its first request: an auth handshake, a socket
	// option. An error from it closes the connection and fails the request
	// that wanted it. It must honour ctx.
	Bootstrap func(ctx context.Context, nc net.Conn) error

	// HostPolicy, when set, gives each host its HostPolicy when the host
	// first appears (host is "scheme://host:port"); SetHostPolicy
	// overrides it for one host at runtime. It must be safe for concurrent
	// use and quick: it runs under the policy layer's lock. Out-of-range
	// values in a policy it returns are clamped: a negative MaxConns,
	// Burst or Delay and a negative, NaN or infinite Rate to 0,
	// DelayJitter into [0, 1]. Nil: every host gets the zero policy (the
	// Config's caps).
	HostPolicy func(host string) HostPolicy

	// Retry retries requests answered 429 or 503 (or the statuses it
	// names), honouring Retry-After, when they are safe to send again; off
	// unless Retry.MaxAttempts > 1. See RetryPolicy.
	Retry RetryPolicy

	// Breaker fails requests to a host at once while it keeps failing;
	// off unless Breaker.Failures > 0. See BreakerPolicy.
	Breaker BreakerPolicy

	// HostLimiter, when set, admits each request before it takes a
	// connection (Do, Execute, ExecuteHandler and RoundTrip alike): its
	// Acquire is called once per request with the host key
	// "scheme://host:port", within the request's context, and the release
	// it returns is called exactly once when the request ends — Do and
	// ExecuteHandler returning, RoundTrip's body read to its end or closed
	// (at once on an error or an upgrade), and also when a hook panics.
	// An Acquire error fails the request with that error. Nil: no
	// admission beyond the pool's caps. See asynchttpredis for one shared
	// by a fleet of processes.
	HostLimiter HostLimiter

	// Events receives the pool's connection events. Each callback runs
	// outside the pool's lock, in the goroutine that caused the event, after
	// the accounting is done: a slow callback delays only that goroutine.
	Events Events

	// DisableCompression stops RoundTrip from asking for gzip and
	// decompressing it transparently (as net/http's Transport does).
	DisableCompression bool
}

// Client is a pooled HTTP/1.1 client. It is safe for concurrent use; make
// one per configuration and share it. Close it to release its connections
// and its background goroutine.
type Client struct {
	cfg       Config
	pool      connPool
	policy    atomic.Pointer[policies] // nil: no host policy (hostpolicy.go)
	dialSlots dialSlots                // Config.MaxConcurrentDials (dialcap.go)
	hsSlots   dialSlots                // Config.MaxConcurrentHandshakes (dialcap.go)
	retry     RetryPolicy              // Config.Retry, resolved (retry.go)
	breaker   BreakerPolicy            // Config.Breaker, resolved (breaker.go)

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

var _ http.RoundTripper = (*Client)(nil)

// New returns a Client configured by cfg. It starts one background
// goroutine, the idle reaper, stopped by Close.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg, done: make(chan struct{})}
	c.dialSlots.init(cfg.MaxConcurrentDials, c.done)
	c.hsSlots.init(cfg.maxHandshakes(), c.done)
	c.pool.init(c)
	c.retry, c.breaker = cfg.Retry.resolved(), cfg.Breaker.resolved()
	if cfg.HostPolicy != nil || cfg.HostLimiter != nil || c.retry.retryOn() || c.breaker.Failures > 0 {
		// With a HostLimiter, for its figures per host in Stats; with
		// retries or a breaker, for their state per host.
		c.policy.Store(newPolicies(c))
	}
	c.wg.Add(1)
	go c.reap()
	return c
}

// Close closes every idle connection, makes every later call and every
// caller still waiting for a connection fail with ErrClientClosed, and waits
// for the client's background goroutine to exit. Connections in use are
// closed when they are released. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.pool.close()
	})
	c.wg.Wait()
	return nil
}

// DrainHost takes a host out of rotation: its idle connections are closed
// now, and its connections in use, or being dialed, are closed when
// released (their current request goes out, or finishes, normally).
// Connections dialed later are not affected. host is a URL ("http://10.0.0.7:8080/..."), or a host key as in
// Stats.Hosts; the default port is implied. DrainHost reports whether the
// pool had connections or waiters for that host; a malformed host is an
// error.
func (c *Client) DrainHost(host string) (bool, error) {
	if c.pool.drainHost(host) {
		return true, nil // a key exactly as in Stats.Hosts
	}
	req := AcquireRequest()
	defer ReleaseRequest(req)
	req.SetRequestURI(host)
	if err := c.begin(req, nil); err != nil {
		return false, err
	}
	return c.pool.drainHost(string(c.pool.key(req))), nil
}

// CloseIdleConnections closes every idle connection now. Connections in
// use are not affected.
func (c *Client) CloseIdleConnections() {
	c.pool.closeIdle()
}

// Prewarm opens up to n new connections to host (a URL such as
// "https://api.example:8443"; Config.Proxy applies) and leaves them idle, so that a first burst of traffic does not pay for dialing. It
// stays within MaxConnsPerHost, MaxTotalConns (evicting nothing) and
// MaxIdleConnsPerHost, counting the host's connections already open. The
// dials run concurrently; Prewarm returns how many connections it opened
// and the first dial error, if any (a *PanicError when Config.Dial,
// Bootstrap or a TLS callback panicked in one of them).
func (c *Client) Prewarm(ctx context.Context, host string, n int) (int, error) {
	req := AcquireRequest()
	defer ReleaseRequest(req)
	req.SetRequestURI(host)
	if err := c.begin(req, nil); err != nil {
		return 0, err
	}
	res, err := c.pool.core.ReserveWarm(c.pool.key(req), req, n)
	if err != nil {
		return 0, err
	}
	slots := res.Slots()
	type result struct {
		cn  *conn
		err error
	}
	results := make(chan result, slots)
	for range slots {
		go func() {
			var r result
			defer func() {
				// The dial gave its slot back already; a panic here would
				// end the process, out of the caller's reach.
				if v := recover(); v != nil {
					r = result{err: &PanicError{Value: v, Stack: debug.Stack()}}
				} else if r.cn == nil && r.err == nil {
					r.err = errHookGoexit
				}
				results <- r
			}()
			r.cn, r.err = c.pool.dialReserved(ctx, res)
		}()
	}
	opened := 0
	var first error
	for range slots {
		r := <-results
		if r.err != nil {
			if first == nil {
				first = r.err
			}
			continue
		}
		r.cn.setDeadline(context.Background(), time.Time{})
		c.pool.release(r.cn)
		opened++
	}
	return opened, first
}
