// Multi-address hosts: new connections are spread round-robin over the
// addresses a host name resolves to; an address that fails to connect sits
// out a cool-down; the set is resolved again when older than AddrTTL.

package asynchttp

import (
	"context"
	"errors"
	"net"
	"net/http/httptrace"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/asynchttp/asynchttp/internal/shrink"
)

// Defaults of the multi-address settings.
const (
	// DefaultAddrTTL is how long a host's resolved addresses are used
	// before they are resolved again, when Config.AddrTTL is zero.
	DefaultAddrTTL = 30 * time.Second
	// DefaultAddrCooldown is how long an address that failed to connect is
	// skipped, when Config.AddrCooldown is zero.
	DefaultAddrCooldown = 10 * time.Second
)

// addrSet is the resolved addresses of one host and where the round-robin
// stands. It has its own lock: resolving is I/O, done outside the pool's.
type addrSet struct {
	mu         sync.Mutex
	ips        []string
	resolvedAt time.Time
	resolving  chan struct{} // closed when the lookup in flight ends; nil when none
	lookupErr  error         // of the last lookup
	next       int
	downUntil  map[string]time.Time
	users      int       // dial targets using it; guarded by dialer.mu
	unusedAt   time.Time // when users last fell to 0; guarded by dialer.mu
}

// resolving reports whether the pool resolves host names itself: when it
// was given a LookupHost, or dials with its own dialer.
func (d *dialer) resolving() bool {
	return d.cfg.LookupHost != nil || d.cfg.Dial == nil
}

// candidates returns the addresses ("ip:port") to try for a new conn to
// t, in order: round-robin from the next one, those cooling down last. An
// IP literal, or a pool that does not resolve, has the one address t.addr.
func (d *dialer) candidates(ctx context.Context, t *dialTarget, trace *httptrace.ClientTrace) ([]string, error) {
	if t.direct != nil {
		return t.direct, nil
	}
	host, port, err := net.SplitHostPort(t.addr)
	if err != nil {
		return nil, err
	}
	s := t.addrs
	now := time.Now()
	s.mu.Lock()
	stale := s.ips == nil || now.Sub(s.resolvedAt) >= d.lim.addrTTL
	wait := s.resolving
	lead := stale && wait == nil
	if lead {
		s.resolving = make(chan struct{})
		wait = s.resolving
	}
	s.mu.Unlock()
	// The lookup starts without s.mu held: the pool's lock comes first.
	if lead && !d.startLookup(s, host) {
		s.mu.Lock()
		close(s.resolving)
		s.resolving = nil
		s.mu.Unlock()
		return nil, ErrClientClosed
	}
	if stale {
		// One lookup per name at a time, shared by every dial that needs
		// it; each waits under its own context, and each sees the lookup
		// in its own httptrace hooks (as net.Resolver reports a lookup
		// it coalesced).
		if trace != nil && trace.DNSStart != nil {
			trace.DNSStart(httptrace.DNSStartInfo{Host: host})
		}
		select {
		case <-wait:
		case <-ctx.Done():
			if trace != nil && trace.DNSDone != nil {
				trace.DNSDone(httptrace.DNSDoneInfo{Err: ctx.Err(), Coalesced: !lead})
			}
			return nil, ctx.Err()
		}
		s.mu.Lock()
		err, ips := s.lookupErr, s.ips
		s.mu.Unlock()
		if trace != nil && trace.DNSDone != nil {
			trace.DNSDone(dnsDone(ips, err, !lead))
		}
		if err != nil && len(ips) == 0 {
			return nil, err
		}
		// A failed refresh keeps the addresses resolved before.
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.ips)
	up := make([]string, 0, n)
	var down []string
	first := -1
	for i := range n {
		j := (s.next + i) % n
		addr := net.JoinHostPort(s.ips[j], port)
		if t, ok := s.downUntil[addr]; ok && now.Before(t) {
			down = append(down, addr)
			continue
		}
		if first < 0 {
			first = j
		}
		up = append(up, addr)
	}
	// The next conn starts after the address this one goes to first, so
	// the live addresses share the conns evenly.
	if first < 0 {
		first = s.next
	}
	s.next = (first + 1) % n
	return append(up, down...), nil
}

// addrSet returns the address set of "host:port", shared by the dial
// targets of that address (http and https, say) and kept after they are
// dropped, so the round-robin and the cool-downs survive a host falling
// idle.
func (d *dialer) addrSet(addr string) *addrSet {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.addrs[addr]
	if s == nil {
		s = &addrSet{}
		d.addrs[addr] = s
	}
	s.users++
	return s
}

// maxUnusedAddrSets is how many address sets no target uses are kept (the
// most recently used), beyond those pruneAddrs drops for their age.
const maxUnusedAddrSets = 256

// pruneAddrs forgets address sets no target uses whose addresses are due
// for resolving again anyway, or that no target has used for IdleTimeout
// (their host's key is gone too), and past maxUnusedAddrSets the least
// recently used of the others, so a crawler's cache stays bounded and
// gives its memory back once the crawl is over.
func (d *dialer) pruneAddrs(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var unused []string
	for k, s := range d.addrs {
		if s.users > 0 {
			continue
		}
		s.mu.Lock()
		expired := now.Sub(s.resolvedAt) >= d.lim.addrTTL && now.Sub(s.resolvedAt) >= d.lim.addrCooldown
		s.mu.Unlock()
		if expired || (d.lim.idleTimeout > 0 && !s.unusedAt.IsZero() && now.Sub(s.unusedAt) >= d.lim.idleTimeout) {
			delete(d.addrs, k)
			continue
		}
		unused = append(unused, k)
	}
	if len(unused) > maxUnusedAddrSets {
		// Keep the most recently used: a crawl's long tail of hosts
		// seen once does not hold memory for AddrTTL.
		slices.SortFunc(unused, func(a, b string) int { return d.addrs[b].unusedAt.Compare(d.addrs[a].unusedAt) })
		for _, k := range unused[maxUnusedAddrSets:] {
			delete(d.addrs, k)
		}
	}
	d.addrs, d.addrPeak = shrink.Map(d.addrs, d.addrPeak)
}

// startLookup resolves host in its own goroutine, under a context of its
// own, bounded by DialTimeout and stopped by Close: no caller's
// cancellation can fail the others waiting on it, and it carries none of a
// caller's values, so the resolver's own dials (UDP to a name server)
// never reach a caller's httptrace ConnectStart and ConnectDone. The
// callers report the lookup to their DNSStart and DNSDone themselves. It
// reports false when the pool is closed.
func (d *dialer) startLookup(s *addrSet, host string) bool {
	timeout := d.lim.dialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	lctx, cancel := context.WithTimeout(context.Background(), timeout)
	if !d.inflight.Track(&cancel) {
		cancel()
		return false
	}
	lookup := d.cfg.LookupHost
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.inflight.Untrack(&cancel)
		defer cancel()
		ips, err := lookup(lctx, host)
		if err == nil && len(ips) == 0 {
			err = errors.New("no addresses")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			var de *net.DNSError
			if !errors.As(err, &de) {
				err = &net.DNSError{Err: err.Error(), Name: host, IsNotFound: true}
			}
			s.lookupErr = err
		} else {
			s.lookupErr = nil
			s.ips, s.resolvedAt = ips, time.Now()
			if s.next >= len(ips) {
				s.next = 0
			}
		}
		close(s.resolving)
		s.resolving = nil
	}()
	return true
}

// markDown makes addr sit out AddrCooldown after a failed connect.
func (d *dialer) markDown(t *dialTarget, addr string) {
	s := t.addrs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downUntil == nil {
		s.downUntil = make(map[string]time.Time)
	}
	now := time.Now()
	for a, t := range s.downUntil {
		if !now.Before(t) {
			delete(s.downUntil, a)
		}
	}
	s.downUntil[addr] = now.Add(d.lim.addrCooldown)
}

// dnsDone is what httptrace's DNSDone hears of a lookup.
func dnsDone(ips []string, err error, coalesced bool) httptrace.DNSDoneInfo {
	addrs := make([]net.IPAddr, 0, len(ips))
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			addrs = append(addrs, net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()})
		}
	}
	return httptrace.DNSDoneInfo{Addrs: addrs, Err: err, Coalesced: coalesced}
}
