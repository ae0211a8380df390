// One pooled connection: socket, buffers, liveness check and the deadlines that carry a context.

package asynchttp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
)

// conn is a pooled connection. It is in exactly one place: dialing, in use
// by one caller (who alone touches its buffers), or idle in the pool.
type conn struct {
	// Entry is the pool core's bookkeeping: key, state, creation and
	// last-use times, the requests served (Requests), the server's
	// Keep-Alive timeout (KeepAlive).
	pool.Entry

	nc net.Conn
	// br (with the reader of the body being read) and bw are lent from
	// the free lists while the conn is in use, and given back when it
	// goes idle (and bw once a request is flushed): an idle conn holds no
	// buffer. Nil when not lent.
	br    *connReader
	bw    *bufio.Writer
	tgt   *dialTarget // what it was dialed for: host, TLS, proxy; its peekAfter
	fd    int32       // the socket, for the liveness check; -1 when unavailable
	isTLS bool        // TLS on the socket (to the host or to an https proxy)

	// Owned by the caller using the conn.
	peekBuf  [1]byte
	deadline time.Time // the deadline now set on nc
	// watch is interrupt as a func value for context.AfterFunc, made at
	// the first exchange under a context that can end.
	watch func()
}

// connReader is a conn's read buffer and the reader of the response body
// it is on, lent together: an idle conn holds neither.
type connReader struct {
	bufio.Reader
	body bodyReader
}

// startBody readies r.body to read a body framed by f from r (see
// bodyReader.reset).
func (r *connReader) startBody(f bodyFraming, max int64, trailer *Header) {
	r.body.reset(&r.Reader, f, max, trailer)
}

var _ pool.Conn = (*conn)(nil)

const connBufSize = 4096

// Conns borrow their buffers here while in use and give them back when
// they go idle or close, so that an idle conn costs no buffer and a dial
// (a Connection: close server, a crawler's churn) allocates none. A small
// free list comes first: unlike a sync.Pool it keeps what it holds across
// garbage collections (and under the race detector, which makes a Pool
// drop items at random), so that a busy loop of requests never allocates;
// it holds at most freeBuffers of each (128 KiB in all: a fixed cost that
// an idle process keeps, so it covers a few loops, and more concurrent
// requests share the sync.Pools behind it).
const freeBuffers = 16

var (
	freeReaders = make(chan *connReader, freeBuffers)
	freeWriters = make(chan *bufio.Writer, freeBuffers)
	readerPool  sync.Pool // *connReader of connBufSize, past the free list
	writerPool  sync.Pool // *bufio.Writer of connBufSize, past the free list
)

func newReader(nc net.Conn) *connReader {
	var br *connReader
	select {
	case br = <-freeReaders:
	default:
		br, _ = readerPool.Get().(*connReader)
	}
	if br == nil {
		br = &connReader{Reader: *bufio.NewReaderSize(nc, connBufSize)}
		return br
	}
	br.Reset(nc)
	return br
}

func newWriter(nc net.Conn) *bufio.Writer {
	var bw *bufio.Writer
	select {
	case bw = <-freeWriters:
	default:
		bw, _ = writerPool.Get().(*bufio.Writer)
	}
	if bw == nil {
		return bufio.NewWriterSize(nc, connBufSize)
	}
	bw.Reset(nc)
	return bw
}

// putReader gives a read buffer back; its bytes and its body reader's
// state are dropped.
func putReader(br *connReader) {
	br.Reset(nil)
	br.body = bodyReader{}
	select {
	case freeReaders <- br:
	default:
		readerPool.Put(br)
	}
}

// putWriter gives a write buffer back; its bytes are dropped.
func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	select {
	case freeWriters <- bw:
	default:
		writerPool.Put(bw)
	}
}

// takeBuffers lends c its buffers for a use: the caller has just taken c
// (from the idle list, a dial or a hand-over).
func (c *conn) takeBuffers() {
	if c.br == nil {
		c.br = newReader(c.nc)
	}
	if c.bw == nil {
		c.bw = newWriter(c.nc)
	}
}

// putWriter gives back c's write buffer once a request is flushed: the
// response may take a while, and nothing is written until the next
// request (whose acquire lends one again).
func (c *conn) putWriter() {
	if c.bw != nil {
		putWriter(c.bw)
		c.bw = nil
	}
}

// recycleBuffers gives c's buffers back when c goes idle (its reader
// holds no byte then: finish closes a conn with bytes past its response)
// or is closed. The caller owns
// c alone: every closed conn comes from its one user, whose exchange and
// body sender are over, or from the idle deque. c keeps no reference to
// the buffers, so a late use would fail loudly rather than read another
// conn's bytes.
func (c *conn) recycleBuffers() {
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	c.putWriter()
}

func newConn(nc net.Conn, t *dialTarget) *conn {
	c := &conn{
		nc:    nc,
		tgt:   t,
		isTLS: t.tls || (t.proxy != nil && t.proxy.Scheme == "https"),
		fd:    -1,
	}
	under := nc
	if tc, ok := nc.(*tls.Conn); ok {
		under = tc.NetConn()
	}
	if sc, ok := under.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) { c.fd = int32(fd) })
		}
	}
	return c
}

// Close closes c's socket and recycles its buffers: the pool core calls
// it for a conn it retires, or one the holder closes through it.
func (c *conn) Close() {
	c.nc.Close()
	c.recycleBuffers()
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

// info describes c for Events callbacks.
func (c *conn) info() ConnInfo {
	return ConnInfo{
		Host:       c.Key(),
		LocalAddr:  c.nc.LocalAddr(),
		RemoteAddr: c.nc.RemoteAddr(),
		CreatedAt:  c.CreatedAt(),
		Requests:   c.Requests,
	}
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

// Alive reports whether an idle conn may be reused: no bytes arrived
// unasked, and the server has not closed or reset it. When it has been
// idle at least peekAfter, that is one non-blocking MSG_PEEK on the
// socket, with no goroutine per conn. The fd is used directly, past the
// runtime's poller (no deadline applies): the conn is the caller's alone
// and open, so the fd cannot be closed or reused meanwhile.
func (c *conn) Alive() bool {
	if c.br != nil && c.br.Buffered() > 0 {
		return false // bytes nobody asked for: reading them as a response would desync
	}
	if c.fd < 0 || c.IdleTime() < c.tgt.peekAfter {
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
