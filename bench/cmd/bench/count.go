// Client-side connection counting for the crawl: a dial wrapper that
// counts connections open per host and in total, from the successful dial
// to the client's Close. It embeds *net.TCPConn so that SyscallConn,
// ReadFrom and the rest stay available to the client under test.

package main

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

type connCounter struct {
	mu       sync.Mutex
	open     map[string]int
	total    int
	maxTotal int
	maxHost  int
	dials    int64
}

func newConnCounter() *connCounter { return &connCounter{open: map[string]int{}} }

var dialer = &net.Dialer{Timeout: 10 * time.Second}

func (cc *connCounter) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	cc.mu.Lock()
	cc.dials++
	cc.total++
	cc.open[addr]++
	cc.maxTotal = max(cc.maxTotal, cc.total)
	cc.maxHost = max(cc.maxHost, cc.open[addr])
	cc.mu.Unlock()
	return &countedConn{TCPConn: tc, cc: cc, addr: addr}, nil
}

func (cc *connCounter) dial(addr string) (net.Conn, error) {
	return cc.dialContext(context.Background(), "tcp", addr)
}

func (cc *connCounter) snapshot() (maxHost, maxTotal int, dials int64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.maxHost, cc.maxTotal, cc.dials
}

type countedConn struct {
	*net.TCPConn
	cc     *connCounter
	addr   string
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.cc.mu.Lock()
		c.cc.total--
		c.cc.open[c.addr]--
		c.cc.mu.Unlock()
	}
	return c.TCPConn.Close()
}
