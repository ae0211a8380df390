// Server-side connection counting for the demo's site (and the tests):
// how many connections the servers had open at once, in all and per host.

package main

import (
	"net"
	"net/http"
	"sync"
)

// connCounter is an http.Server ConnState hook that tracks the open
// connections and their peak, in all and per server address. A server
// learns that the client closed a connection only when it next reads from
// it, so a plain count runs ahead of the client's: when a new connection
// arrives, the counter first peeks (without reading) at the others and
// stops counting those that are already at EOF. That makes the peak what
// the client really had open (on unix; elsewhere the plain count).
type connCounter struct {
	mu       sync.Mutex
	conns    map[net.Conn]string // open conn → its server's address
	peak     int
	hostPeak map[string]int
}

func newConnCounter() *connCounter {
	return &connCounter{conns: make(map[net.Conn]string), hostPeak: make(map[string]int)}
}

// connState is the http.Server ConnState hook.
func (cc *connCounter) connState(c net.Conn, st http.ConnState) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	switch st {
	case http.StateNew:
		for o := range cc.conns {
			if peerClosed(o) {
				delete(cc.conns, o)
			}
		}
		host := c.LocalAddr().String()
		cc.conns[c] = host
		perHost := 0
		for _, h := range cc.conns {
			if h == host {
				perHost++
			}
		}
		cc.peak = max(cc.peak, len(cc.conns))
		cc.hostPeak[host] = max(cc.hostPeak[host], perHost)
	case http.StateClosed, http.StateHijacked:
		delete(cc.conns, c)
	}
}

// peaks returns the most connections open at once, in all and per server
// address ("127.0.0.1:port").
func (cc *connCounter) peaks() (int, map[string]int) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	m := make(map[string]int, len(cc.hostPeak))
	for k, v := range cc.hostPeak {
		m[k] = v
	}
	return cc.peak, m
}
