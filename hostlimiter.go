package asynchttp

import "context"

// HostLimiter is shared admission consulted before a request to a host
// starts, after the client's own host policy: for example a fleet of
// processes sharing per-host politeness through Redis (see the
// asynchttpredis module).
//
// host is "scheme://host:port", the same key as Config.HostPolicy.
type HostLimiter interface {
	// Acquire blocks until one more request to host may start, or ctx ends
	// (then it returns ctx's error, or an error wrapping it). On success the
	// caller calls release exactly once when that request ends, on every
	// path (success, error, cancellation). On error release is nil and must
	// not be called.
	Acquire(ctx context.Context, host string) (release func(), err error)
}
