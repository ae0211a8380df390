// Close reasons, and the errors the pool returns when its owner gives none.

package pool

import (
	"context"
	"errors"
	"fmt"
)

// Reason says why a conn left the pool. The values match the root
// package's CloseReason one for one.
type Reason uint8

// The reasons a conn is closed, counted per key and in total.
const (
	IdleTimeout  Reason = iota // idle longer than Config.IdleTimeout or its KeepAlive
	Lifetime                   // older than Config.Lifetime (less its jitter)
	ServerClosed               // Conn.Alive said no before reuse
	Evicted                    // idle, closed to make room under MaxTotal for another key
	IdleCap                    // offered back over MaxIdle, or the least recently used idle conn over MaxIdleTotal
	NotReusable                // the owner's: the peer said so
	Error                      // a failure, or a panic in the owner's code while a conn was held
	Canceled                   // the owner's: the caller's context ended mid-use
	IdleClosed                 // CloseIdle
	PoolClosed                 // Shutdown
	MaxRequests                // served Config.MaxRequests requests
	Drained                    // its key was drained (Drain)
	Upgraded                   // the owner's: detached, its socket handed to the caller (Detach)
	OverCap                    // released while its key was over its own cap (lowered by SetKeyMax)
	NumReasons
)

// Errors returned by default when Config leaves the matching field nil.
var (
	ErrClosed         = errors.New("pool: closed")
	ErrFull           = errors.New("pool: no free slot")
	ErrTooManyWaiting = errors.New("pool: too many waiting")
	ErrWaitTimeout    = errors.New("pool: wait timed out")
)

// Errors is how the pool reports a failure to acquire: its owner makes the
// values it wants its callers to see. A nil field selects the default.
type Errors struct {
	Closed         error                                      // the pool is shut
	Full           error                                      // no slot and AcquireTimeout < 0
	TooManyWaiting error                                      // MaxPending waiters already
	WaitTimeout    func() error                               // AcquireTimeout passed
	Ctx            func(ctx context.Context, op string) error // ctx ended during op ("acquire", "bootstrap")
}

func (e *Errors) fill() {
	if e.Closed == nil {
		e.Closed = ErrClosed
	}
	if e.Full == nil {
		e.Full = ErrFull
	}
	if e.TooManyWaiting == nil {
		e.TooManyWaiting = ErrTooManyWaiting
	}
	if e.WaitTimeout == nil {
		e.WaitTimeout = func() error { return ErrWaitTimeout }
	}
	if e.Ctx == nil {
		e.Ctx = func(ctx context.Context, op string) error {
			return fmt.Errorf("pool: %s: %w", op, context.Cause(ctx))
		}
	}
}
