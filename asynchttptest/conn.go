// An in-memory, buffered, full-duplex net.Conn pair with deadlines.

package asynchttptest

import (
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// BufferSize is how many bytes each direction of a Pipe holds before a
// Write blocks, as a socket's send and receive buffers would. It is large
// enough that an HTTP/1.1 server may write a response while its client is
// still writing a request body, and small enough that a peer that stops
// reading holds up a writer (and its write deadline then fires).
const BufferSize = 256 << 10

// Addr is the address of one end of an in-memory connection. Its String
// has the "host:port" form of a TCP address, so that handlers which split
// r.RemoteAddr keep working; the port tells connections apart.
type Addr struct {
	Host string
	Port int
}

var _ net.Addr = Addr{}

// Network returns "mem".
func (a Addr) Network() string { return "mem" }

func (a Addr) String() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// Pipe returns the two ends of an in-memory connection, like net.Pipe, but
// buffered: a Write returns as soon as its bytes fit in the BufferSize
// bytes the direction holds, without waiting for the peer to read them.
//
// Both ends honour SetDeadline, SetReadDeadline and SetWriteDeadline: an
// expired deadline (one in the past included) makes blocked and later
// calls fail with an error that wraps os.ErrDeadlineExceeded and reports
// Timeout. Close of one end makes the other end read the bytes already
// buffered and then io.EOF, and makes its writes fail with an error
// wrapping io.ErrClosedPipe; calls on the closed end fail with an error
// wrapping net.ErrClosed. CloseWrite half-closes an end, as on TCP.
func Pipe() (*Conn, *Conn) {
	return pipe(Addr{Host: "127.0.0.1", Port: 1}, Addr{Host: "127.0.0.1", Port: 2})
}

func pipe(a, b net.Addr) (*Conn, *Conn) {
	ab, ba := newStream(), newStream()
	ca := &Conn{rx: ba, tx: ab, local: a, remote: b, done: make(chan struct{})}
	cb := &Conn{rx: ab, tx: ba, local: b, remote: a, done: make(chan struct{})}
	ca.rdl.init()
	ca.wdl.init()
	cb.rdl.init()
	cb.wdl.init()
	return ca, cb
}

// Conn is one end of an in-memory connection made by Pipe or by a
// Listener. It is safe for concurrent use, as a net.Conn must be.
type Conn struct {
	rx, tx        *stream // bytes to read, bytes written
	local, remote net.Addr
	rdl, wdl      deadline

	closeOnce sync.Once
	done      chan struct{} // closed by Close
}

var _ net.Conn = (*Conn)(nil)

// stream carries bytes one way, from the writing end to the reading end.
type stream struct {
	mu         sync.Mutex
	buf        []byte // buffered bytes are buf[off:]
	off        int
	eof        bool          // the writer closed: io.EOF after buf
	readerGone bool          // the reader closed: writes fail
	changed    chan struct{} // closed and replaced whenever the above change
}

func newStream() *stream { return &stream{changed: make(chan struct{})} }

// notifyLocked wakes every reader and writer waiting on s.
func (s *stream) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "mem", Source: c.local, Addr: c.remote, Err: err}
}

func (c *Conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Read reads buffered bytes, waiting for some to arrive. It returns io.EOF
// once the peer has closed (or half-closed) and every byte sent before is
// read.
func (c *Conn) Read(b []byte) (int, error) {
	s := c.rx
	for {
		switch {
		case c.isClosed():
			return 0, c.opErr("read", net.ErrClosed)
		case c.rdl.expired():
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		s.mu.Lock()
		if n := len(s.buf) - s.off; n > 0 || len(b) == 0 {
			n = copy(b, s.buf[s.off:])
			s.off += n
			if s.off == len(s.buf) {
				s.buf, s.off = s.buf[:0], 0
			}
			s.notifyLocked()
			s.mu.Unlock()
			return n, nil
		}
		if s.eof {
			s.mu.Unlock()
			return 0, io.EOF
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-c.rdl.wait():
		case <-c.done:
		}
	}
}

// Write writes b, waiting while the direction's buffer is full. On error it
// returns how many bytes were buffered before.
func (c *Conn) Write(b []byte) (int, error) {
	s := c.tx
	written := 0
	for {
		switch {
		case c.isClosed():
			return written, c.opErr("write", net.ErrClosed)
		case c.wdl.expired():
			return written, c.opErr("write", os.ErrDeadlineExceeded)
		}
		s.mu.Lock()
		switch {
		case s.eof:
			s.mu.Unlock()
			return written, c.opErr("write", errWriteAfterCloseWrite)
		case s.readerGone:
			s.mu.Unlock()
			return written, c.opErr("write", io.ErrClosedPipe)
		}
		if room := BufferSize - (len(s.buf) - s.off); room > 0 {
			n := min(room, len(b)-written)
			if s.off > 0 && len(s.buf)+n > cap(s.buf) {
				s.buf = s.buf[:copy(s.buf, s.buf[s.off:])]
				s.off = 0
			}
			s.buf = append(s.buf, b[written:written+n]...)
			written += n
			s.notifyLocked()
		}
		if written == len(b) {
			s.mu.Unlock()
			return written, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-c.wdl.wait():
		case <-c.done:
		}
	}
}

var errWriteAfterCloseWrite = &closeWriteError{}

type closeWriteError struct{}

func (*closeWriteError) Error() string { return "asynchttptest: write after CloseWrite" }

// Close closes this end: its pending and later calls fail with an error
// wrapping net.ErrClosed, bytes buffered for it are dropped, and the peer
// reads what this end wrote and then io.EOF. Close is idempotent and never
// fails.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.CloseWrite()
		s := c.rx
		s.mu.Lock()
		s.readerGone = true
		s.buf, s.off = nil, 0
		s.notifyLocked()
		s.mu.Unlock()
		c.rdl.set(time.Time{})
		c.wdl.set(time.Time{})
	})
	return nil
}

// CloseWrite shuts down the writing side only, as *net.TCPConn's does: the
// peer reads the buffered bytes and then io.EOF, and later writes on this
// end fail. Reading goes on. net/http's server calls it before closing a
// connection whose request body it did not read.
func (c *Conn) CloseWrite() error {
	s := c.tx
	s.mu.Lock()
	if !s.eof {
		s.eof = true
		s.notifyLocked()
	}
	s.mu.Unlock()
	return nil
}

// LocalAddr returns this end's address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines. The zero time clears
// them; a time in the past interrupts blocked calls at once.
func (c *Conn) SetDeadline(t time.Time) error {
	if c.isClosed() {
		return c.opErr("set deadline", net.ErrClosed)
	}
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline for Read calls, pending ones included.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.isClosed() {
		return c.opErr("set deadline", net.ErrClosed)
	}
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for Write calls, pending ones
// included.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.isClosed() {
		return c.opErr("set deadline", net.ErrClosed)
	}
	c.wdl.set(t)
	return nil
}

// deadline is a channel closed when a deadline passes; a timer closes it
// for a deadline in the future.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed once the deadline has passed
}

func (d *deadline) init() { d.cancel = make(chan struct{}) }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait until its func has closed cancel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// wait returns a channel closed when the deadline passes.
func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool { return isClosed(d.wait()) }

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
