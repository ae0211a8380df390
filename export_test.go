// Internals exposed to the external tests.

package asynchttp

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
	c.pool.mu.Lock()
	defer c.pool.mu.Unlock()
	return len(c.pool.hosts)
}
