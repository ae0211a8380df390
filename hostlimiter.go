// HostLimiter: an admission hook consulted before a request to a host
// starts, for limits shared beyond one Client (a fleet of processes).

package asynchttp

import "context"

// HostLimiter admits requests to a host. A Client with Config.HostLimiter
// set calls Acquire before each request starts (after its own host policy:
// rate, delay and concurrency), and calls the release function it returned
// exactly once when that request ends, on every path: success, error,
// cancellation, or a panic in a hook. host is the pool key,
// "scheme://host:port".
//
// Acquire must honour ctx: when ctx ends it returns promptly with an error
// (the request fails with it). An error means the request is not admitted
// and release is not called. Implementations must be safe for concurrent
// use.
type HostLimiter interface {
	// Acquire blocks until one more request to host may start, or ctx ends;
	// release is called once when that request ends.
	Acquire(ctx context.Context, host string) (release func(), err error)
}

// admitHost asks Config.HostLimiter to admit req, which begin has
// prepared. It returns the release to call once when the request ends, or
// nil when there is no limiter.
func (c *Client) admitHost(ctx context.Context, req *Request) (release func(), err error) {
	hl := c.cfg.HostLimiter
	if hl == nil {
		return nil, nil
	}
	release, err = hl.Acquire(ctx, string(req.hostKey()))
	if err != nil {
		return nil, err
	}
	if release == nil {
		release = func() {}
	}
	return release, nil
}
