// Defaults, and their resolution from Config into the settings of the pool, the dialer and the exchange.

package asynchttp

import (
	"runtime"
	"time"
)

// Defaults selected by zero Config fields.
const (
	// DefaultMaxIdleConnsPerHost is the idle connections kept per host
	// when Config.MaxIdleConnsPerHost is zero.
	DefaultMaxIdleConnsPerHost = 32
	// DefaultMaxIdleConns is the idle connections kept across all hosts
	// when Config.MaxIdleConns is zero: enough for a service's few
	// backends, while a crawl over thousands of hosts does not keep
	// thousands of sockets open (net/http's DefaultTransport keeps 100).
	DefaultMaxIdleConns = 128
	// DefaultIdleTimeout closes connections idle this long when
	// Config.IdleTimeout is zero.
	DefaultIdleTimeout = 90 * time.Second
	// DefaultDialTimeout bounds a TCP connect when Config.DialTimeout is zero.
	DefaultDialTimeout = 30 * time.Second
	// DefaultTLSHandshakeTimeout bounds a TLS handshake when
	// Config.TLSHandshakeTimeout is zero.
	DefaultTLSHandshakeTimeout = 10 * time.Second
	// DefaultHandshakesPerCPU sets the cap on TLS handshakes in flight
	// across a Client when Config.MaxConcurrentHandshakes is zero: this
	// many per CPU (runtime.GOMAXPROCS when the Client is made), at least
	// MinDefaultHandshakes. A client's CPU completes a few thousand
	// handshakes a second per core, so the cap leaves bursts as fast as
	// they were over short round trips, while the state of the handshakes
	// waiting for their servers stays near 1.3 MiB per CPU.
	DefaultHandshakesPerCPU = 128
	// MinDefaultHandshakes is the least default cap on handshakes in flight.
	MinDefaultHandshakes = 256
	// DefaultExpectContinueTimeout is how long a request with "Expect:
	// 100-continue" waits for the server's word before sending its body,
	// when Config.ExpectContinueTimeout is zero.
	DefaultExpectContinueTimeout = time.Second
	// DefaultMaxResponseHeaderBytes bounds a response head when
	// Config.MaxResponseHeaderBytes is zero.
	DefaultMaxResponseHeaderBytes = 1 << 20
	// DefaultMaxResponseBodyBytes bounds a body buffered by Do when
	// Config.MaxResponseBodyBytes is zero.
	DefaultMaxResponseBodyBytes = 64 << 20
	// MaxDrainBytes is the most a client reads from a response body that
	// was closed before its end, hoping to reuse the connection; a longer
	// remainder (or one that does not arrive within DrainTimeout) closes
	// the connection instead.
	MaxDrainBytes = 64 << 10
	// DrainTimeout bounds the time spent draining a body closed early.
	DrainTimeout = 50 * time.Millisecond
)

// limits holds the resolved settings: no zero-means-default left.
type limits struct {
	maxTotal, maxPerHost int // 0: no cap
	maxIdle              int // 0: keep none
	maxIdleTotal         int // 0: no cap
	maxPending           int // 0: no cap
	acquireTimeout       time.Duration
	idleTimeout          time.Duration // 0: never
	lifetime             time.Duration // 0: forever
	jitter               float64       // fraction of lifetime, [0, 1]
	maxRequests          int           // per conn; 0: no limit
	fifo                 bool
	dialTimeout          time.Duration // 0: none
	tlsTimeout           time.Duration // 0: none
	headerTimeout        time.Duration // 0: none
	expectTimeout        time.Duration // 0: send the body without waiting
	addrTTL              time.Duration
	addrCooldown         time.Duration
	maxHeader            int
	maxBody              int64         // buffered bodies; 0: no cap
	maxStreamBody        int64         // streamed bodies; 0: no cap
	peekAfter            time.Duration // idle conns are checked before reuse after this long
}

func (c *Config) limits() limits {
	l := limits{
		maxTotal:       max(c.MaxTotalConns, 0),
		maxPerHost:     max(c.MaxConnsPerHost, 0),
		maxPending:     max(c.MaxPendingPerHost, 0),
		acquireTimeout: c.AcquireTimeout,
		lifetime:       max(c.MaxConnLifetime, 0),
		jitter:         min(max(c.LifetimeJitter, 0), 1),
		maxRequests:    max(c.MaxRequestsPerConn, 0),
		fifo:           c.IdleOrder == FIFO,
		headerTimeout:  max(c.ResponseHeaderTimeout, 0),
		peekAfter:      defaultPeekAfterIdle,
	}
	switch {
	case c.MaxIdleConnsPerHost > 0:
		l.maxIdle = c.MaxIdleConnsPerHost
	case c.MaxIdleConnsPerHost == 0:
		l.maxIdle = DefaultMaxIdleConnsPerHost
	}
	switch {
	case c.MaxIdleConns > 0:
		l.maxIdleTotal = c.MaxIdleConns
	case c.MaxIdleConns == 0:
		l.maxIdleTotal = DefaultMaxIdleConns
	}
	l.idleTimeout = orDefault(c.IdleTimeout, DefaultIdleTimeout)
	l.dialTimeout = orDefault(c.DialTimeout, DefaultDialTimeout)
	l.tlsTimeout = orDefault(c.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	l.expectTimeout = orDefault(c.ExpectContinueTimeout, DefaultExpectContinueTimeout)
	l.addrTTL = orDefault(c.AddrTTL, DefaultAddrTTL)
	l.addrCooldown = orDefault(c.AddrCooldown, DefaultAddrCooldown)
	l.maxHeader = c.MaxResponseHeaderBytes
	if l.maxHeader <= 0 {
		l.maxHeader = DefaultMaxResponseHeaderBytes
	}
	switch {
	case c.MaxResponseBodyBytes > 0:
		l.maxBody, l.maxStreamBody = c.MaxResponseBodyBytes, c.MaxResponseBodyBytes
	case c.MaxResponseBodyBytes == 0:
		l.maxBody = DefaultMaxResponseBodyBytes
	}
	return l
}

// orDefault resolves a duration field: zero selects def, negative none.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// maxHandshakes resolves MaxConcurrentHandshakes: 0 or less means no cap.
func (c *Config) maxHandshakes() int {
	if n := c.MaxConcurrentHandshakes; n != 0 {
		return n
	}
	return max(MinDefaultHandshakes, DefaultHandshakesPerCPU*runtime.GOMAXPROCS(0))
}
