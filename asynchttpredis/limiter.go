// Package asynchttpredis is an asynchttp.HostLimiter on Redis: per-host
// caps on requests in flight and on request rate, shared by every process
// of a fleet that points at the same Redis.
package asynchttpredis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/redis/go-redis/v9"
)

// Options configure a Limiter. The zero value of each field is documented
// beside it.
type Options struct {
	MaxInFlight int           // requests in flight per host across the fleet; 0: no cap
	Rate        float64       // request starts per second per host across the fleet; 0: no limit
	LeaseTTL    time.Duration // a slot held by a dead process comes back after this; 0: 10s
	Timeout     time.Duration // bound on one admission round trip to Redis; 0: 1s
	FailOpen    bool          // Redis unreachable: true = admit (local caps only), false = fail
	KeyPrefix   string        // prefix of every key; "": "asynchttp:"

	// PerHost, when set, overrides MaxInFlight and Rate for one host
	// ("scheme://host:port"). It is called on every admission, so it may
	// change its answer at runtime; it must be fast and safe for
	// concurrent use. Its answers have the same meaning as the fields
	// (0: no cap / no limit; negative: invalid, Acquire fails).
	PerHost func(host string) (maxInFlight int, rate float64)

	// PollInterval bounds how long a caller waits before asking Redis
	// again when the host's in-flight cap is full; 0: 25ms. Each wait is
	// jittered by up to half of it so that a fleet does not poll in step.
	PollInterval time.Duration
}

// ErrUnavailable is matched (errors.Is) by every *UnavailableError.
var ErrUnavailable = errors.New("asynchttpredis: redis unavailable")

// UnavailableError is returned by Acquire when Redis did not answer within
// Options.Timeout (or failed) and FailOpen is false.
type UnavailableError struct {
	Host string
	Err  error // the cause from go-redis or the timeout
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("asynchttpredis: redis unavailable for %s: %v", e.Host, e.Err)
}

// Unwrap gives the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is reports ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

//go:embed acquire.lua
var acquireSrc string

//go:embed renew.lua
var renewSrc string

var (
	acquireScript = redis.NewScript(acquireSrc)
	renewScript   = redis.NewScript(renewSrc)
)

// Limiter implements asynchttp.HostLimiter on Redis. It is safe for
// concurrent use. Close stops its lease renewer.
type Limiter struct {
	rdb  redis.UniversalClient
	o    Options
	seq  atomic.Uint64
	base string // random per Limiter: lease ids never collide across processes

	mu     sync.Mutex
	leases map[string]map[string]struct{} // in-flight key -> lease ids held here
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

var _ asynchttp.HostLimiter = (*Limiter)(nil)

// NewLimiter returns a Limiter over rdb. Negative or NaN values in o are
// replaced by their zero-value defaults.
func NewLimiter(rdb redis.UniversalClient, o Options) *Limiter {
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = "asynchttp:"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 25 * time.Millisecond
	}
	if o.MaxInFlight < 0 {
		o.MaxInFlight = 0
	}
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		o.Rate = 0
	}
	l := &Limiter{
		rdb:    rdb,
		o:      o,
		base:   strconv.FormatUint(rand.Uint64(), 36),
		leases: map[string]map[string]struct{}{},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go l.renewLoop()
	return l
}

// Close stops the renewer. Leases still held expire within LeaseTTL;
// their release funcs still remove them from Redis. Close is idempotent.
func (l *Limiter) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return nil
}

func (l *Limiter) keys(host string) (inflight, rate string) {
	// The hash tag puts both keys of a host in one Redis Cluster slot, so
	// one script may touch both.
	return l.o.KeyPrefix + "{" + host + "}:inflight", l.o.KeyPrefix + "{" + host + "}:rate"
}

// Acquire implements asynchttp.HostLimiter.
func (l *Limiter) Acquire(ctx context.Context, host string) (func(), error) {
	maxIn, rate := l.o.MaxInFlight, l.o.Rate
	if l.o.PerHost != nil {
		maxIn, rate = l.o.PerHost(host)
		if maxIn < 0 || rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
			return nil, fmt.Errorf("asynchttpredis: PerHost(%q) gave invalid limits (maxInFlight %d, rate %v)", host, maxIn, rate)
		}
	}
	if maxIn == 0 && rate == 0 {
		return func() {}, nil
	}
	kIn, kRate := l.keys(host)
	// Emission interval in microseconds (GCRA with a burst of 1).
	var intervalUS int64
	if rate > 0 {
		intervalUS = int64(math.Ceil(1e6 / rate))
	}
	lease := ""
	if maxIn > 0 {
		lease = l.base + ":" + strconv.FormatUint(l.seq.Add(1), 36)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rctx, cancel := context.WithTimeout(ctx, l.o.Timeout)
		res, err := acquireScript.Run(rctx, l.rdb, []string{kIn, kRate},
			lease, maxIn, l.o.LeaseTTL.Microseconds(), intervalUS).Int64Slice()
		cancel()
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			if l.o.FailOpen {
				return func() {}, nil
			}
			return nil, &UnavailableError{Host: host, Err: err}
		}
		if len(res) != 2 {
			return nil, &UnavailableError{Host: host, Err: fmt.Errorf("unexpected script reply %v", res)}
		}
		var wait time.Duration
		switch res[0] {
		case 0: // admitted
			if lease == "" {
				return func() {}, nil
			}
			return l.hold(kIn, lease), nil
		case 1: // cap full: poll
			wait = l.o.PollInterval/2 + rand.N(l.o.PollInterval/2+1)
		case 2: // rate: the script says how long
			wait = time.Duration(res[1]) * time.Microsecond
		default:
			return nil, &UnavailableError{Host: host, Err: fmt.Errorf("unexpected script reply %v", res)}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// hold records the lease for the renewer and returns its release func,
// which runs at most once.
func (l *Limiter) hold(kIn, lease string) func() {
	l.mu.Lock()
	m := l.leases[kIn]
	if m == nil {
		m = map[string]struct{}{}
		l.leases[kIn] = m
	}
	m[lease] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(m, lease)
			if len(m) == 0 && l.leases[kIn] != nil {
				delete(l.leases, kIn)
			}
			l.mu.Unlock()
			// Best effort: a failed ZREM is recovered by the lease's TTL.
			ctx, cancel := context.WithTimeout(context.Background(), l.o.Timeout)
			l.rdb.ZRem(ctx, kIn, lease)
			cancel()
		})
	}
}

// renewLoop pushes the expiry of every lease held here forward, every
// LeaseTTL/3, one pipelined round trip per tick for all hosts.
func (l *Limiter) renewLoop() {
	defer close(l.done)
	tk := time.NewTicker(l.o.LeaseTTL / 3)
	defer tk.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tk.C:
		}
		l.mu.Lock()
		batch := make(map[string][]any, len(l.leases))
		for k, m := range l.leases {
			args := make([]any, 0, len(m)+1)
			args = append(args, l.o.LeaseTTL.Microseconds())
			for id := range m {
				args = append(args, id)
			}
			batch[k] = args
		}
		l.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.o.Timeout)
		pipe := l.rdb.Pipeline()
		for k, args := range batch {
			renewScript.Eval(ctx, pipe, []string{k}, args...)
		}
		_, _ = pipe.Exec(ctx) // a missed renewal is retried next tick; EVAL (not EVALSHA) so a restarted Redis needs no SCRIPT LOAD
		cancel()
	}
}
