// Config.MaxConcurrentDials and MaxConcurrentHandshakes: caps on the dials and on the TLS handshakes in flight across a Client.

package asynchttp

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
)

// AcquireTimeoutAction is what a caller does when its AcquireTimeout
// passes while its host is at its cap (see Config.AcquireTimeoutAction).
type AcquireTimeoutAction int

const (
	// AcquireTimeoutFail fails the request with a *TimeoutError wrapping
	// ErrTooManyConns. The default.
	AcquireTimeoutFail AcquireTimeoutAction = iota
	// AcquireTimeoutNew dials a new connection past the host's cap, within
	// MaxTotalConns.
	AcquireTimeoutNew
)

func (a AcquireTimeoutAction) String() string {
	if a == AcquireTimeoutNew {
		return "new"
	}
	return "fail"
}

// dialSlots is the semaphore of Config.MaxConcurrentDials (or of
// MaxConcurrentHandshakes); with no cap it has no channel and costs
// nothing.
type dialSlots struct {
	ch   chan struct{} // one token per dial in flight; nil: no cap
	done <-chan struct{}

	waits    atomic.Uint64
	waitTime atomic.Int64 // nanoseconds
}

func (s *dialSlots) init(n int, done <-chan struct{}) {
	if n > 0 {
		s.ch = make(chan struct{}, n)
	}
	s.done = done
}

// wrap returns dial bounded by the cap: each call holds a slot from
// before the TCP connect until the TLS handshake ends.
func (s *dialSlots) wrap(dial func(context.Context, *pool.Key) (pool.Conn, error)) func(context.Context, *pool.Key) (pool.Conn, error) {
	if s.ch == nil {
		return dial
	}
	return func(ctx context.Context, k *pool.Key) (pool.Conn, error) {
		if err := s.take(ctx, "wait for a dial slot"); err != nil {
			return nil, err
		}
		defer s.give()
		return dial(ctx, k)
	}
}

// take waits for a slot within ctx, or until the Client closes; op names
// the wait in the error of a context that ends.
func (s *dialSlots) take(ctx context.Context, op string) error {
	if s.ch == nil {
		return nil
	}
	select {
	case s.ch <- struct{}{}:
		return nil
	default:
	}
	start := time.Now()
	select {
	case s.ch <- struct{}{}:
		s.waits.Add(1)
		s.waitTime.Add(int64(time.Since(start)))
		return nil
	case <-ctx.Done():
		return ctxErr(ctx, op)
	case <-s.done:
		return ErrClientClosed
	}
}

// give returns a slot taken with take.
func (s *dialSlots) give() {
	if s.ch != nil {
		<-s.ch
	}
}
