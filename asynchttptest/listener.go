// Listener: accepts in-memory connections made by its Dial.

package asynchttptest

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
)

// Listener is a net.Listener for in-memory connections: each Dial makes a
// Pipe and hands its server end to Accept. No port is opened and no name
// is resolved. The zero Listener is not usable; call NewListener.
type Listener struct {
	addr      Addr
	conns     chan *Conn
	done      chan struct{}
	closeOnce sync.Once
	nextPort  atomic.Int64
}

var _ net.Listener = (*Listener)(nil)

// NewListener returns a Listener whose address is "asynchttp.test:80".
func NewListener() *Listener {
	l := &Listener{
		addr:  Addr{Host: "asynchttp.test", Port: 80},
		conns: make(chan *Conn),
		done:  make(chan struct{}),
	}
	l.nextPort.Store(1023)
	return l
}

// Accept waits for the next Dial and returns the server end of its
// connection. After Close it fails with an error wrapping net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "mem", Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close stops the listener: pending and later Dial and Accept calls fail.
// Connections already accepted stay open. Close is idempotent.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.addr }

// Dial connects to the listener, whatever network and address it is given:
// it has the signature of asynchttp.Config.Dial and net.Dialer.DialContext,
// so every host name routes here. The client end's RemoteAddr is the
// listener's address and its LocalAddr is "127.0.0.1:N", N unique per
// connection (it is the server end's RemoteAddr, r.RemoteAddr in a
// handler).
//
// Dial blocks until Accept takes the connection, ctx ends (the error then
// wraps ctx's error) or the listener is closed (the error wraps
// net.ErrClosed).
func (l *Listener) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	fail := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: l.addr, Err: err}
	}
	select {
	case <-l.done:
		return nil, fail(net.ErrClosed)
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	client := Addr{Host: "127.0.0.1", Port: int(l.nextPort.Add(1))}
	cc, sc := pipe(client, l.addr)
	select {
	case l.conns <- sc:
		return cc, nil
	case <-l.done:
		return nil, fail(net.ErrClosed)
	case <-ctx.Done():
		return nil, fail(ctx.Err())
	}
}
