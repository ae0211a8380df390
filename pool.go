// The Client's side of the pool core (internal/pool): close reasons, host keys, acquire and release with httptrace and Events.

package asynchttp

import (
	"context"
	"fmt"
	"net/http/httptrace"
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
)

// CloseReason says why the pool closed a connection.
type CloseReason uint8

// The reasons a connection is closed, counted in Stats.
const (
	CloseIdleTimeout  CloseReason = iota // idle longer than IdleTimeout
	CloseLifetime                        // older than MaxConnLifetime
	CloseServerClosed                    // found closed by the server (or with unsolicited bytes) before reuse
	CloseEvicted                         // idle, closed to make room under MaxTotalConns for another host
	CloseIdleCap                         // offered back over MaxIdleConnsPerHost
	CloseNotReusable                     // Connection: close, HTTP/1.0, or a close-delimited body
	CloseError                           // a protocol or network error, or a body abandoned unread
	CloseCanceled                        // the caller's context ended during the exchange
	CloseIdleClosed                      // CloseIdleConnections
	CloseClientClosed                    // Client.Close
	CloseMaxRequests                     // served MaxRequestsPerConn requests
	CloseDrained                         // its host was drained (DrainHost)
	CloseUpgraded                        // handed to the caller after 101 Switching Protocols; the socket stays open
	CloseOverLimit                       // released while its host had more open than its limit (lowered by SetHostPolicy or the adaptive limit, or dialed past it by AcquireTimeoutNew)
	numCloseReasons
)

var closeReasonNames = [numCloseReasons]string{
	"idle timeout", "lifetime", "server closed", "evicted", "idle cap",
	"not reusable", "error", "canceled", "idle closed", "client closed",
	"max requests", "drained", "upgraded", "over limit",
}

func (r CloseReason) String() string {
	if r < numCloseReasons {
		return closeReasonNames[r]
	}
	return "unknown"
}

// The close reasons are the pool core's, value for value.
var (
	_ = [1]struct{}{}[numCloseReasons-CloseReason(pool.NumReasons)]
	_ = [1]struct{}{}[CloseIdleTimeout-CloseReason(pool.IdleTimeout)]
	_ = [1]struct{}{}[CloseLifetime-CloseReason(pool.Lifetime)]
	_ = [1]struct{}{}[CloseServerClosed-CloseReason(pool.ServerClosed)]
	_ = [1]struct{}{}[CloseEvicted-CloseReason(pool.Evicted)]
	_ = [1]struct{}{}[CloseIdleCap-CloseReason(pool.IdleCap)]
	_ = [1]struct{}{}[CloseNotReusable-CloseReason(pool.NotReusable)]
	_ = [1]struct{}{}[CloseError-CloseReason(pool.Error)]
	_ = [1]struct{}{}[CloseCanceled-CloseReason(pool.Canceled)]
	_ = [1]struct{}{}[CloseIdleClosed-CloseReason(pool.IdleClosed)]
	_ = [1]struct{}{}[CloseClientClosed-CloseReason(pool.PoolClosed)]
	_ = [1]struct{}{}[CloseMaxRequests-CloseReason(pool.MaxRequests)]
	_ = [1]struct{}{}[CloseDrained-CloseReason(pool.Drained)]
	_ = [1]struct{}{}[CloseUpgraded-CloseReason(pool.Upgraded)]
	_ = [1]struct{}{}[CloseOverLimit-CloseReason(pool.OverCap)]
)

// connPool is the Client's view of its pool: the key-agnostic core
// (internal/pool), fed with host keys and dialing through dialer, with the
// HTTP-side reporting (httptrace, Events) around it. Nothing in the core
// calls back up except through the hooks set here.
type connPool struct {
	c      *Client
	lim    limits
	core   *pool.Pool
	dialer dialer
}

func (p *connPool) init(c *Client) {
	p.c = c
	p.lim = c.cfg.limits()
	p.dialer.init(&c.cfg, &p.lim, &c.wg, &c.hsSlots)
	cfg := pool.Config{
		MaxTotal:       p.lim.maxTotal,
		MaxPerKey:      p.lim.maxPerHost,
		MaxIdle:        p.lim.maxIdle,
		MaxIdleTotal:   p.lim.maxIdleTotal,
		MaxPending:     p.lim.maxPending,
		AcquireTimeout: p.lim.acquireTimeout,
		DialOnTimeout:  c.cfg.AcquireTimeoutAction == AcquireTimeoutNew,
		IdleTimeout:    p.lim.idleTimeout,
		Lifetime:       p.lim.lifetime,
		Jitter:         p.lim.jitter,
		MaxRequests:    p.lim.maxRequests,
		FIFO:           p.lim.fifo,
		Linger:         orDefault(p.lim.idleTimeout, DefaultIdleTimeout), // also when idle conns never time out
		NewKey: func(k *pool.Key, hint any) {
			k.Data = p.dialer.target(k.Name(), hint.(*Request))
		},
		KeyMax: func(k *pool.Key) int {
			if pl := c.policy.Load(); pl != nil {
				return pl.connLimit(k.Name())
			}
			return 0
		},
		ForgetKey: func(k *pool.Key) { p.dialer.forget(k.Data.(*dialTarget)) },
		Dial:      c.dialSlots.wrap(p.dialer.dial),
		Errors: pool.Errors{
			Closed:         ErrClientClosed,
			Full:           ErrTooManyConns,
			TooManyWaiting: ErrTooManyPending,
			WaitTimeout:    func() error { return &TimeoutError{Op: "acquire", Err: ErrTooManyConns} },
			Ctx: func(ctx context.Context, op string) error {
				if op == "setup" {
					op = "bootstrap"
				}
				return ctxErr(ctx, op)
			},
		},
	}
	if boot := c.cfg.Bootstrap; boot != nil {
		cfg.Setup = func(ctx context.Context, pc pool.Conn) error {
			cn := pc.(*conn)
			if err := boot(ctx, cn.nc); err != nil {
				return fmt.Errorf("asynchttp: bootstrap %s: %w", cn.tgt.addr, err)
			}
			return nil
		}
	}
	if f := c.cfg.Events.ConnCreated; f != nil {
		cfg.Created = func(pc pool.Conn) { f(pc.(*conn).info()) }
	}
	if f := c.cfg.Events.ConnClosed; f != nil {
		cfg.Closed = func(pc pool.Conn, why pool.Reason) { f(pc.(*conn).info(), CloseReason(why)) }
	}
	p.core = pool.New(cfg)
	p.dialer.inflight = p.core.Inflight()
}

// key returns req's pool key: "scheme://host:port", and the proxy (with a
// hash of its credentials) when there is one. It allocates only for a
// proxied request.
func (p *connPool) key(req *Request) []byte {
	key := req.hostKey()
	if req.proxy != nil {
		key = append(key[:len(key):len(key)], proxyKey(req.proxy)...)
	}
	return key
}

// acquire returns a conn to req's host, in use by the caller (see
// pool.Pool.Acquire), and reports it to httptrace and Events. fresh skips
// idle conns (a retry wants a new connection).
func (p *connPool) acquire(ctx context.Context, req *Request, fresh bool) (*conn, error) {
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(req.dialAddr())
	}
	e, err := p.core.Acquire(ctx, p.key(req), fresh, req)
	if err != nil {
		return nil, err
	}
	c := e.Conn().(*conn)
	c.takeBuffers()
	if f := p.c.cfg.Events.ConnAcquired; f != nil {
		p.core.EventHolding(e, func() { f(c.info(), c.Reused()) })
	}
	if trace != nil && trace.GotConn != nil {
		p.core.Holding(e, func() {
			wasIdle, idleTime := e.WasIdle()
			trace.GotConn(httptrace.GotConnInfo{Conn: c.nc, Reused: c.Reused(), WasIdle: wasIdle, IdleTime: idleTime})
		})
	}
	return c, nil
}

// dialReserved dials one conn in a slot Prewarm reserved.
func (p *connPool) dialReserved(ctx context.Context, r pool.Reservation) (*conn, error) {
	e, err := p.core.DialReserved(ctx, r)
	if err != nil {
		return nil, err
	}
	return e.Conn().(*conn), nil
}

// release takes back an in-use conn whose response is complete and which
// may be reused; it reports whether the conn was kept. Its buffers go
// back first: an idle conn holds none, and its next user borrows them.
func (p *connPool) release(c *conn) (kept bool) {
	c.recycleBuffers()
	return p.core.Release(&c.Entry)
}

// closeConn closes an in-use conn and gives its slots to waiters.
func (p *connPool) closeConn(c *conn, why CloseReason) { p.core.CloseConn(&c.Entry, pool.Reason(why)) }

// discardConn closes a conn whose exchange was cut short by a panic in
// the caller's code, unless it is closed already. Its buffers are not
// recycled: a body sender may still hold them until the closed socket
// stops it.
func (p *connPool) discardConn(c *conn) {
	if p.core.Detach(&c.Entry, pool.Error) {
		c.nc.Close()
		p.core.ReportClosed(&c.Entry)
	}
}

// handOver takes an in-use conn out of the pool for good, leaving its
// socket open and its read buffer to the caller (a protocol upgrade): its
// slots are free from now on, and it counts as closed with CloseUpgraded.
// It returns the read buffer, which may hold bytes past the response head.
func (p *connPool) handOver(c *conn) *connReader {
	p.core.Detach(&c.Entry, pool.Upgraded)
	br := c.br
	c.br = nil
	c.recycleBuffers() // the write buffer only: it was flushed
	p.core.ReportClosed(&c.Entry)
	return br
}

// lastRequest names why the request about to go out on cn is its last —
// it reaches MaxRequestsPerConn, or cn is past its lifetime or drained —
// or returns numCloseReasons. Such a request carries "Connection: close".
func (p *connPool) lastRequest(cn *conn) CloseReason {
	return CloseReason(p.core.LastRequest(&cn.Entry))
}

// eventHolding runs an Events callback while the caller holds c: a panic
// is recovered and counted, a runtime.Goexit closes c.
func (p *connPool) eventHolding(c *conn, f func()) { p.core.EventHolding(&c.Entry, f) }

// event runs an Events callback: a panic in it is recovered and counted.
func (p *connPool) event(f func()) { p.core.Event(f) }

// drainHost drains the host with key (see Client.DrainHost).
func (p *connPool) drainHost(key string) bool { return p.core.Drain(key) }

func (p *connPool) closeIdle()                { p.core.CloseIdle() }
func (p *connPool) close()                    { p.core.Shutdown() }
func (p *connPool) checkInvariants() string   { return p.core.CheckInvariants() }
func (p *connPool) waiting() int              { return p.core.Waiting() }
func (p *connPool) reapOnce(now time.Time)    { p.core.ReapOnce(now); p.dialer.pruneAddrs(now) }
func (p *connPool) reapPeriod() time.Duration { return p.core.ReapPeriod() }

// reap is the Client's one background goroutine: it retires idle conns
// past IdleTimeout or MaxConnLifetime until the Client is closed.
func (c *Client) reap() {
	defer c.wg.Done()
	t := time.NewTicker(c.pool.reapPeriod())
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			c.pool.reapOnce(now)
			if p := c.policy.Load(); p != nil {
				p.prune(now)
			}
		}
	}
}
