// Internals exposed to the external tests.

package asynchttp

import "time"

// CheckInvariants returns "" when the pool's accounting holds, else the
// first breach found.
func CheckInvariants(c *Client) string { return c.pool.checkInvariants() }

// ResetProxyEnv makes ProxyFromEnvironment read the environment again.
func ResetProxyEnv() {
	envProxy.mu.Lock()
	envProxy.f = nil
	envProxy.mu.Unlock()
}

// HostCount is the number of hosts in the pool's map.
func HostCount(c *Client) int {
	known, _ := c.pool.core.Keys()
	return known
}

// SetPeekAfterIdle sets how long a conn must have been idle before the
// liveness check looks at its socket (0: at every reuse). Call it before
// the client's first request.
func SetPeekAfterIdle(c *Client, d time.Duration) { c.pool.lim.peekAfter = d }

// ActiveHostCount is the number of hosts with a conn or a waiter.
func ActiveHostCount(c *Client) int {
	_, active := c.pool.core.Keys()
	return active
}
