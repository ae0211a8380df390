// NewMany: several Counting servers at once.

package testserver

import (
	"net/http"
	"testing"
)

// NewMany starts n Counting servers for h, each on its own port of
// 127.0.0.1. Each closes in t.Cleanup.
func NewMany(t testing.TB, n int, h http.Handler) []*Counting {
	t.Helper()
	servers := make([]*Counting, n)
	for i := range servers {
		servers[i] = NewCounting(t, h)
	}
	return servers
}
