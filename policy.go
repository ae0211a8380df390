// The host-policy seam between the ways in and the exchange: connFor, where every attempt takes its conn.

package asynchttp

import "context"

// hostPolicy steers the attempts to each host before they take a
// connection: per-host overrides, rate and delay, adaptive concurrency, a
// breaker, a shared HostLimiter (DESIGN.md, "Layers"). A Client holds none
// unless a policy is configured; then each attempt costs one nil check.
type hostPolicy interface {
	// admit blocks until one more attempt of req may start, or ctx ends,
	// or the policy refuses it (the error is the caller's).
	admit(ctx context.Context, req *Request) error
}

// connFor returns a conn for one attempt of req, in use by the caller:
// Do, Execute, ExecuteHandler and RoundTrip all take their conns here, so
// the host policy sees every attempt, retries included, before it holds a
// connection slot. fresh asks for a new connection (a retry).
func (c *Client) connFor(ctx context.Context, req *Request, fresh bool) (*conn, error) {
	if c.policy != nil {
		if err := c.policy.admit(ctx, req); err != nil {
			return nil, err
		}
	}
	return c.pool.acquire(ctx, req, fresh)
}
