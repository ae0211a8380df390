// Dialing, beneath the pool: per-key dial targets, TCP (direct or via proxy) over resolved addresses, TLS.

package asynchttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
)

// dialTarget is what a pool key dials: the data of its pool.Key, made when
// the key is first seen and shared by all its conns.
type dialTarget struct {
	key        string // the pool key: scheme://host:port, and " via proxy" when proxied
	addr       string // host:port to dial (through the proxy, if any)
	tls        bool
	serverName string
	proxy      *url.URL      // nil: direct
	proxyAuth  string        // Proxy-Authorization for plain HTTP proxying
	addrs      *addrSet      // resolved addresses, shared by the targets of one name
	direct     []string      // the one address to dial when there is nothing to resolve
	peekAfter  time.Duration // a conn idle at least this long is peeked at before reuse (conn.Alive)

	tlsOnce sync.Once
	tlsCfg  *tls.Config // made at the first handshake, shared by every conn of the target
}

// tlsConfig returns the tls.Config of t's handshakes: one per target (so
// per host), made once, never changed afterwards.
func (t *dialTarget) tlsConfig(d *dialer) *tls.Config {
	t.tlsOnce.Do(func() { t.tlsCfg = d.newTLSConfig(t.serverName) })
	return t.tlsCfg
}

// dialer opens new conns for the pool. It knows the Client's Config, not
// the pool's accounting: it registers its dials and lookups in inflight,
// which the pool's Shutdown stops, and never calls the pool.
type dialer struct {
	cfg      *Config
	lim      *limits
	inflight *pool.Inflight
	wg       *sync.WaitGroup // the Client's: lookups in flight

	mu       sync.Mutex
	addrs    map[string]*addrSet // by "host:port"; outlives targets, pruned by the reaper
	addrPeak int                 // len(addrs) at its largest since the map was made

	sessions tls.ClientSessionCache // the Client's TLS sessions; nil when disabled
	hsSlots  *dialSlots             // the Client's cap on handshakes in flight
}

// DefaultTLSSessionCacheSize is how many TLS sessions (one per server
// name) a Client keeps for resumption unless Config.TLSConfig brings its
// own ClientSessionCache or Config.DisableTLSSessionCache is set.
const DefaultTLSSessionCacheSize = 512

func (d *dialer) init(cfg *Config, lim *limits, wg *sync.WaitGroup, hs *dialSlots) {
	d.cfg, d.lim, d.wg, d.hsSlots = cfg, lim, wg, hs
	d.addrs = make(map[string]*addrSet)
	if !cfg.DisableTLSSessionCache && (cfg.TLSConfig == nil || cfg.TLSConfig.ClientSessionCache == nil) {
		d.sessions = tls.NewLRUClientSessionCache(DefaultTLSSessionCacheSize)
	}
}

// newTLSConfig returns the tls.Config of handshakes with serverName: a
// copy of Config.TLSConfig (the caller's is never changed) with ServerName
// set when empty, ALPN "http/1.1" only, and the Client's session cache
// when it has one.
func (d *dialer) newTLSConfig(serverName string) *tls.Config {
	cfg := d.cfg.TLSConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	// This client speaks HTTP/1.1 only.
	cfg.NextProtos = []string{"http/1.1"}
	if cfg.ClientSessionCache == nil && d.sessions != nil {
		cfg.ClientSessionCache = d.sessions
	}
	return cfg
}

// target makes the dial target of a new pool key from the request that
// brought the key. It runs under the pool's lock (pool.Config.NewKey).
func (d *dialer) target(key string, req *Request) *dialTarget {
	t := &dialTarget{
		key:        key,
		addr:       req.dialAddr(),
		tls:        req.isTLS(),
		serverName: req.serverName(),
		proxy:      req.proxy,
		peekAfter:  d.lim.peekAfter,
	}
	if t.proxy != nil && (t.proxy.Scheme == "http" || t.proxy.Scheme == "https") {
		t.proxyAuth = basicAuth(t.proxy)
	}
	if host, _, err := net.SplitHostPort(t.addr); err != nil || net.ParseIP(host) != nil || !d.resolving() {
		t.direct = []string{t.addr} // nothing to resolve
	} else {
		t.addrs = d.addrSet(t.addr)
	}
	return t
}

// forget lets go of the address set of a target whose key the pool
// dropped (pool.Config.ForgetKey, under the pool's lock).
func (d *dialer) forget(t *dialTarget) {
	if t.addrs == nil {
		return
	}
	d.mu.Lock()
	if t.addrs.users--; t.addrs.users == 0 {
		t.addrs.unusedAt = time.Now()
	}
	d.mu.Unlock()
}

// dial opens a conn for k in slots the pool reserved (pool.Config.Dial).
func (d *dialer) dial(ctx context.Context, k *pool.Key) (pool.Conn, error) {
	t := k.Data.(*dialTarget)
	nc, err := d.dialConn(ctx, t)
	if err != nil {
		return nil, err
	}
	return newConn(nc, t), nil
}

func (d *dialer) dialConn(ctx context.Context, t *dialTarget) (net.Conn, error) {
	nc, err := d.dialTCP(ctx, t)
	if err != nil || !t.tls {
		return nc, err
	}
	// Close stops a handshake in flight, as it stops dials.
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !d.inflight.Track(&cancel) {
		nc.Close()
		return nil, ErrClientClosed
	}
	defer d.inflight.Untrack(&cancel)
	tc, err := d.handshake(hctx, nc, t.tlsConfig(d))
	if err != nil {
		return nil, dialErr(ctx, hctx, "tls handshake", t.addr, err)
	}
	return tc, nil
}

// dialTCP opens the TCP conn of t, directly or through its proxy.
func (d *dialer) dialTCP(ctx context.Context, t *dialTarget) (net.Conn, error) {
	trace := httptrace.ContextClientTrace(ctx)
	// One context bounds the dial (and a proxy's setup) by DialTimeout
	// and is stopped by Close, through the pool's list of dials in flight.
	var dctx context.Context
	var cancel context.CancelFunc
	if d.lim.dialTimeout > 0 {
		dctx, cancel = context.WithTimeout(ctx, d.lim.dialTimeout)
	} else {
		dctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	if !d.inflight.Track(&cancel) {
		return nil, ErrClientClosed
	}
	defer d.inflight.Untrack(&cancel)
	dial := d.cfg.Dial
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	if t.proxy != nil {
		nc, err := d.dialProxied(dctx, t, dial)
		if err != nil {
			return nil, dialErr(ctx, dctx, "dial via proxy", t.proxy.Host, err)
		}
		return nc, nil
	}
	addrs, err := d.candidates(dctx, t, trace)
	if err != nil {
		return nil, dialErr(ctx, dctx, "resolve", t.addr, err)
	}
	// ConnectStart and ConnectDone reach httptrace from net.Dialer itself
	// (through the trace in ctx), as with net/http.
	var nc net.Conn
	for _, addr := range addrs {
		nc, err = dial(dctx, "tcp", addr)
		if err == nil {
			return nc, nil
		}
		if dctx.Err() != nil {
			break // out of time: no point in trying the next address
		}
		if len(addrs) > 1 {
			d.markDown(t, addr)
		}
	}
	return nil, dialErr(ctx, dctx, "dial", t.addr, err)
}

// handshake runs a TLS client handshake over nc with cfg (see
// newTLSConfig), bounded by TLSHandshakeTimeout and ctx. On failure, or a
// panic in a callback, nc is closed.
func (d *dialer) handshake(ctx context.Context, nc net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	trace := httptrace.ContextClientTrace(ctx)
	hctx := ctx
	if d.lim.tlsTimeout > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, d.lim.tlsTimeout)
		defer cancel()
	}
	// The caller's code runs in here (trace hooks, Config.TLSConfig
	// callbacks): should it panic, nc is closed before the panic goes on.
	done := false
	defer func() {
		if !done {
			nc.Close()
		}
	}()
	// The wait for a slot (MaxConcurrentHandshakes) counts in the
	// handshake's time.
	if err := d.hsSlots.take(hctx, "wait for a TLS handshake slot"); err != nil {
		done = true
		nc.Close()
		if hctx.Err() != nil && ctx.Err() == nil {
			return nil, &TimeoutError{Op: "tls handshake", Err: err}
		}
		return nil, err
	}
	defer d.hsSlots.give()
	if trace != nil && trace.TLSHandshakeStart != nil {
		trace.TLSHandshakeStart()
	}
	tc := tls.Client(nc, cfg)
	err := tc.HandshakeContext(hctx)
	if trace != nil && trace.TLSHandshakeDone != nil {
		trace.TLSHandshakeDone(tc.ConnectionState(), err)
	}
	done = true
	if err != nil {
		nc.Close()
		if hctx.Err() != nil && ctx.Err() == nil {
			return nil, &TimeoutError{Op: "tls handshake", Err: err}
		}
		return nil, err
	}
	return tc, nil
}

// dialErr maps a failed dial or handshake: the caller's context ending
// wins, then our own timeout, then the error as it is.
func dialErr(ctx, inner context.Context, op, addr string, err error) error {
	if ctx.Err() != nil {
		return ctxErr(ctx, op)
	}
	var ne net.Error
	if inner.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
		// net.Dialer turns the caller's deadline into a socket deadline,
		// which may fire a moment before the context marks itself done.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return &TimeoutError{Op: op, Err: context.DeadlineExceeded}
		}
		return &TimeoutError{Op: op, Err: fmt.Errorf("%s: %w", addr, err)}
	}
	return &dialError{op: op, addr: addr, err: err}
}

var defaultDialer net.Dialer
