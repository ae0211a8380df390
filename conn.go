// One pooled connection: dialing it, checking it before reuse, and the
// deadlines that carry a caller's context onto its socket.

package asynchttp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http/httptrace"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type connState uint8

const (
	stateInUse connState = iota
	stateIdle
	stateClosed
)

// conn is a pooled connection. It is in exactly one place: in use by one
// caller (who alone touches its buffers), or idle in its host's deque.
type conn struct {
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	hp        *hostPool
	fd        int // the socket, for the liveness check; -1 when unavailable
	isTLS     bool
	createdAt time.Time
	idleSince time.Time
	retireAt  time.Time // MaxConnLifetime (with jitter) ends here; zero: never
	state     connState // guarded by pool.mu
	reused    bool      // it served a request before the current one
	hlink     idleLinks // guarded by pool.mu
	glink     idleLinks // guarded by pool.mu
	alink     idleLinks // guarded by pool.mu
	closedBy  CloseReason
	drain     atomic.Bool // DrainHost: close when released

	// Owned by the caller using the conn (or by the pool while it is idle).
	requests   int           // requests completed on it
	wasIdle    bool          // it came from the idle deque (for httptrace)
	idleTime   time.Duration // how long it was idle then
	serverIdle time.Duration // the server's Keep-Alive timeout, less a margin; 0: unknown

	body     bodyReader
	deadline time.Time // the deadline now set on nc
	peekBuf  [1]byte
	// watch is interrupt as a func value for context.AfterFunc, made at
	// the first exchange under a context that can end.
	watch func()
}

const connBufSize = 4096

// Closed conns give their buffers back here, so that a dial (a
// Connection: close server, a crawler's churn) does not allocate 8 KiB.
var (
	readerPool sync.Pool // *bufio.Reader of connBufSize
	writerPool sync.Pool // *bufio.Writer of connBufSize
)

func newReader(nc net.Conn) *bufio.Reader {
	if br, _ := readerPool.Get().(*bufio.Reader); br != nil {
		br.Reset(nc)
		return br
	}
	return bufio.NewReaderSize(nc, connBufSize)
}

func newWriter(nc net.Conn) *bufio.Writer {
	if bw, _ := writerPool.Get().(*bufio.Writer); bw != nil {
		bw.Reset(nc)
		return bw
	}
	return bufio.NewWriterSize(nc, connBufSize)
}

// recycleBuffers gives c's buffers back once c is closed. The caller owns
// c alone: every closed conn comes from its one user, whose exchange and
// body sender are over, or from the idle deque. c keeps no reference to
// the buffers, so a late use would fail loudly rather than read another
// conn's bytes.
func (c *conn) recycleBuffers() {
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
	if c.bw != nil {
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
	c.body = bodyReader{}
}

func newConn(nc net.Conn, hp *hostPool, lim *limits) *conn {
	c := &conn{
		nc:        nc,
		br:        newReader(nc),
		bw:        newWriter(nc),
		hp:        hp,
		isTLS:     hp.tls || (hp.proxy != nil && hp.proxy.Scheme == "https"),
		createdAt: time.Now(),
	}
	if lim.lifetime > 0 {
		life := lim.lifetime
		if lim.jitter > 0 {
			// Conns made together must not all retire together.
			life -= time.Duration(lim.jitter * rand.Float64() * float64(life))
		}
		c.retireAt = c.createdAt.Add(life)
	}
	c.fd = -1
	under := nc
	if tc, ok := nc.(*tls.Conn); ok {
		under = tc.NetConn()
	}
	if sc, ok := under.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	}
	return c
}

// interrupt makes every blocked read and write of c return at once.
func (c *conn) interrupt() { c.nc.SetDeadline(aLongTimeAgo) }

// watchFunc returns interrupt as a func value, made once per conn.
func (c *conn) watchFunc() func() {
	if c.watch == nil {
		c.watch = c.interrupt
	}
	return c.watch
}

// aLongTimeAgo is a deadline in the past: setting it interrupts I/O.
var aLongTimeAgo = time.Unix(1, 0)

// noDeadline clears a deadline.
var noDeadline time.Time

// dial opens a conn to hp in slots already reserved by the caller; on
// failure the slots are given back.
func (p *pool) dial(ctx context.Context, hp *hostPool, gen uint64) (*conn, error) {
	// The caller's code runs in here (Config.Dial, Proxy, TLS callbacks,
	// Bootstrap). Should it panic (or call runtime.Goexit), the slots, or
	// the new conn, are given back before the panic goes on: a caller that recovers (an HTTP
	// server does, per request) must not leave the pool a conn short.
	reserved := true
	var held *conn
	defer func() {
		// Runs while a panic or runtime.Goexit unwinds, which goes on
		// afterwards; every normal way out clears both flags first.
		switch {
		case held != nil:
			p.closeConn(held, CloseError)
		case reserved:
			p.unreserve(hp)
		}
	}()
	nc, err := p.dialConn(ctx, hp)
	if err != nil {
		reserved = false
		p.unreserve(hp)
		if p.isClosed() && ctx.Err() == nil {
			return nil, ErrClientClosed
		}
		return nil, err
	}
	c := newConn(nc, hp, &p.lim)
	p.mu.Lock()
	reserved = false
	hp.dialing--
	hp.inUse++
	hp.created++
	hp.conns.pushBack(c, allLinks)
	p.created++
	if hp.drainGen != gen {
		c.drain.Store(true) // DrainHost ran since the slots were reserved
	}
	closed := p.closed
	if closed {
		p.forgetLocked(c, CloseClientClosed)
	}
	p.mu.Unlock()
	if !closed {
		held = c // from here until it is returned or closed
	}
	if f := p.c.cfg.Events.ConnCreated; f != nil {
		p.event(func() { f(c.info()) })
	}
	if closed {
		p.closeOne(c)
		return nil, ErrClientClosed
	}
	if boot := p.c.cfg.Bootstrap; boot != nil {
		// Close stops a bootstrap in flight, as it stops dials.
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if !p.trackDial(&cancel) {
			held = nil
			p.closeConn(c, CloseClientClosed)
			return nil, ErrClientClosed
		}
		defer p.untrackDial(&cancel)
		err := boot(bctx, nc)
		if err != nil {
			held = nil
			p.closeConn(c, CloseError)
			switch {
			case ctx.Err() != nil:
				return nil, ctxErr(ctx, "bootstrap")
			case p.isClosed():
				return nil, ErrClientClosed
			}
			return nil, fmt.Errorf("asynchttp: bootstrap %s: %w", hp.addr, err)
		}
	}
	held = nil
	return c, nil
}

// info describes c for Events callbacks.
func (c *conn) info() ConnInfo {
	return ConnInfo{
		Host:       c.hp.key,
		LocalAddr:  c.nc.LocalAddr(),
		RemoteAddr: c.nc.RemoteAddr(),
		CreatedAt:  c.createdAt,
		Requests:   c.requests,
	}
}

func (p *pool) dialConn(ctx context.Context, hp *hostPool) (net.Conn, error) {
	nc, err := p.dialTCP(ctx, hp)
	if err != nil || !hp.tls {
		return nc, err
	}
	// Close stops a handshake in flight, as it stops dials.
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !p.trackDial(&cancel) {
		nc.Close()
		return nil, ErrClientClosed
	}
	defer p.untrackDial(&cancel)
	tc, err := p.handshake(hctx, nc, hp.serverName)
	if err != nil {
		return nil, dialErr(ctx, hctx, "tls handshake", hp.addr, err)
	}
	return tc, nil
}

// dialTCP opens the TCP conn of hp, directly or through its proxy.
func (p *pool) dialTCP(ctx context.Context, hp *hostPool) (net.Conn, error) {
	trace := httptrace.ContextClientTrace(ctx)
	// One context bounds the dial (and a proxy's setup) by DialTimeout
	// and is stopped by Close, through the pool's list of dials in flight.
	var dctx context.Context
	var cancel context.CancelFunc
	if p.lim.dialTimeout > 0 {
		dctx, cancel = context.WithTimeout(ctx, p.lim.dialTimeout)
	} else {
		dctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	if !p.trackDial(&cancel) {
		return nil, ErrClientClosed
	}
	defer p.untrackDial(&cancel)
	dial := p.c.cfg.Dial
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	if hp.proxy != nil {
		nc, err := p.dialProxied(dctx, hp, dial)
		if err != nil {
			return nil, dialErr(ctx, dctx, "dial via proxy", hp.proxy.Host, err)
		}
		return nc, nil
	}
	addrs, err := p.candidates(dctx, hp, trace)
	if err != nil {
		return nil, dialErr(ctx, dctx, "resolve", hp.addr, err)
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
			p.markDown(hp, addr)
		}
	}
	return nil, dialErr(ctx, dctx, "dial", hp.addr, err)
}

// handshake runs a TLS client handshake over nc for serverName (ALPN
// http/1.1 only), bounded by TLSHandshakeTimeout and ctx. On failure, or a
// panic in a callback, nc is closed.
func (p *pool) handshake(ctx context.Context, nc net.Conn, serverName string) (*tls.Conn, error) {
	trace := httptrace.ContextClientTrace(ctx)
	cfg := p.c.cfg.TLSConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	// This client speaks HTTP/1.1 only.
	cfg.NextProtos = []string{"http/1.1"}
	hctx := ctx
	if p.lim.tlsTimeout > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, p.lim.tlsTimeout)
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

var defaultDialer net.Dialer

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

// ctxErr is the error of an operation stopped by the end of ctx: a
// *TimeoutError wrapping the cause for a deadline, else the cause itself
// (context.Canceled or what was given to a CancelCauseFunc).
func ctxErr(ctx context.Context, op string) error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = ctx.Err()
	}
	if errors.Is(cause, context.DeadlineExceeded) {
		return &TimeoutError{Op: op, Err: cause}
	}
	return fmt.Errorf("asynchttp: %s: %w", op, cause)
}

// defaultPeekAfterIdle is how long a conn must have been idle before
// alive looks at its socket. A conn taken back sooner (a busy caller's
// next request) is reused unchecked: the check finds only what arrived
// while the conn was idle, so over a few microseconds it would almost
// never find anything, and it costs a syscall per request, 4–6 % of Do's
// CPU in a busy loop. No server idle timeout is that short, and the
// stale-conn race it leaves is the one every client has (a close crossing
// the request), which the retry of idempotent requests covers. Bytes
// already read past a response are always caught (finish closes the conn).
const defaultPeekAfterIdle = time.Millisecond

// alive reports whether an idle conn may be reused: no bytes arrived
// unasked, and the server has not closed or reset it. When it has been
// idle at least peekAfter, that is one non-blocking MSG_PEEK on the
// socket, with no goroutine per conn. The fd is used directly, past the
// runtime's poller (no deadline applies): the conn is the caller's alone
// and open, so the fd cannot be closed or reused meanwhile.
func (c *conn) alive(peekAfter time.Duration) bool {
	if c.br.Buffered() > 0 {
		return false // bytes nobody asked for: reading them as a response would desync
	}
	if c.fd < 0 || c.idleTime < peekAfter {
		return true
	}
	return c.peek()
}

// setDeadline sets d on the socket unless it is already set. While a
// context watch is armed (ctx may end), a deadline set here must not undo
// the watch's interrupt: when ctx has ended, the past deadline is put back.
func (c *conn) setDeadline(ctx context.Context, d time.Time) {
	if !d.Equal(c.deadline) {
		c.deadline = d
		c.nc.SetDeadline(d)
		c.keepInterrupted(ctx)
	}
}

// setReadDeadline sets a read deadline only; the cached full deadline is
// forgotten so the next setDeadline always applies.
func (c *conn) setReadDeadline(ctx context.Context, d time.Time) {
	c.invalidateDeadline()
	c.nc.SetReadDeadline(d)
	c.keepInterrupted(ctx)
}

// invalidateDeadline forgets the cached deadline: after deadlines were set
// behind the cache's back (the body sender, an interrupt).
func (c *conn) invalidateDeadline() { c.deadline = aLongTimeAgo.Add(-1) }

// keepInterrupted re-applies the interrupt of a context that has ended:
// its watch may have fired just before a deadline was moved.
func (c *conn) keepInterrupted(ctx context.Context) {
	if ctx.Err() != nil {
		c.invalidateDeadline()
		c.nc.SetDeadline(aLongTimeAgo)
	}
}

// isTimeout reports whether err is a socket deadline firing.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
