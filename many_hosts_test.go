// A crawl over many host names gives its memory back: address sets, pool
// keys and their maps go once the hosts have been quiet for IdleTimeout.

package asynchttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAddressSetsAndKeysGoWithTheirHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			cc, sc := net.Pipe()
			go func() {
				defer sc.Close()
				br := bufio.NewReader(sc)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					io.WriteString(sc, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				}
			}()
			return cc, nil
		}
		// Names resolved by the hook: no lookup leaves the test.
		lookup := func(context.Context, string) ([]string, error) { return []string{"10.255.0.1"}, nil }
		c := New(Config{Dial: dial, LookupHost: lookup, IdleTimeout: time.Second})
		defer c.Close()
		const hosts = 500
		for i := range hosts {
			req, resp := AcquireRequest(), AcquireResponse()
			req.SetRequestURI(fmt.Sprintf("http://h%d.crawl.test/", i))
			require.NoError(t, c.Do(t.Context(), req, resp))
			ReleaseRequest(req)
			ReleaseResponse(resp)
		}
		c.pool.dialer.mu.Lock()
		assert.Len(t, c.pool.dialer.addrs, hosts)
		c.pool.dialer.mu.Unlock()
		assert.Equal(t, DefaultMaxIdleConns, c.Stats().Idle, "the idle cap across hosts")

		// Idle conns expire after 1 s, their keys linger 1 s more, their
		// address sets go 1 s after that: all by the reaper.
		time.Sleep(4 * time.Second)
		synctest.Wait()
		c.pool.dialer.mu.Lock()
		assert.Empty(t, c.pool.dialer.addrs)
		assert.LessOrEqual(t, c.pool.dialer.addrPeak, 64, "the map was rebuilt small")
		c.pool.dialer.mu.Unlock()
		known, _ := c.pool.core.Keys()
		assert.Zero(t, known)
		assert.Zero(t, c.Stats().Open)
	})
}

func TestUnusedAddressSetsAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &pipeDials{}
		defer p.close()
		lookup := func(context.Context, string) ([]string, error) { return []string{"10.255.0.1"}, nil }
		c := New(Config{Dial: p.dial, LookupHost: lookup, MaxIdleConnsPerHost: -1}) // IdleTimeout 90 s
		defer c.Close()
		for i := range 1000 {
			req := preparedRequest(t, fmt.Sprintf("h%d.crawl.test", i))
			cn, err := c.connFor(t.Context(), req, false, &admission{}, &hostTurn{})
			require.NoError(t, err)
			c.pool.closeConn(cn, CloseNotReusable)
		}
		time.Sleep(2 * time.Second) // a reaper pass or two
		synctest.Wait()
		c.pool.dialer.mu.Lock()
		defer c.pool.dialer.mu.Unlock()
		assert.LessOrEqual(t, len(c.pool.dialer.addrs), 256+maxUnusedAddrSets,
			"the hosts lingering in the pool (256) keep theirs; of the others, the most recent %d", maxUnusedAddrSets)
	})
}
