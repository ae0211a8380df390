// Regression tests from a review of the lingering-host, peek-gate, plain
// wait, event-panic and CLI close-reason commits.

package asynchttp_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// regression5StaleTake sets up, on a fake clock, a host whose only conn is
// idle and past IdleTimeout but not yet reaped (the reaper ticks on whole
// seconds, the conn went idle at +0.5s), then starts a request to it that
// the server holds. acquireConn's takeIdleLocked retires the expired conn,
// which empties the host: lingerIfEmptyLocked puts it on the lingering list,
// and acquireConn then reserves a dial on it without waking it.
func regression5StaleTake(t *testing.T, c *asynchttp.Client, url string) (held chan error) {
	time.Sleep(500 * time.Millisecond)
	_, _, err := get(t.Context(), c, "GET", url+"/")
	require.NoError(t, err)
	require.Equal(t, 1, c.Stats().Idle)
	time.Sleep(time.Minute + 200*time.Millisecond) // expired at +60.5s, next reap at +61s
	synctest.Wait()
	require.Equal(t, 1, c.Stats().Idle, "not reaped yet")
	held = make(chan error, 1)
	go func() {
		_, _, err := get(t.Context(), c, "GET", url+"/hold")
		held <- err
	}()
	synctest.Wait()
	return held
}

// TestRegression5StaleIdleTakeLeavesHostLingering: the host has a conn in
// use (dialed after the stale one was retired) but is still on the
// lingering list, so the accounting breaks and DrainHost ignores it.
func TestRegression5StaleIdleTakeLeavesHostLingering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		var once sync.Once
		release := func() { once.Do(func() { close(hold) }) }
		srv := &pipeServer{serve: serveOK(hold)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, IdleTimeout: time.Minute})
		defer c.Close()
		defer release()
		const url = "http://10.255.0.1:80"
		held := regression5StaleTake(t, c, url)

		st := c.Stats()
		assert.Equal(t, 1, st.InUse, "the /hold request has a new conn")
		assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseIdleTimeout])
		assert.Empty(t, asynchttp.CheckInvariants(c), "a host with a conn in use must not linger")
		assert.Equal(t, 1, asynchttp.ActiveHostCount(c), "the host has a conn in use")
		ok, err := c.DrainHost(url)
		assert.NoError(t, err)
		assert.True(t, ok, "DrainHost must see a host with a conn in use")

		release()
		require.NoError(t, <-held)
		assert.Empty(t, asynchttp.CheckInvariants(c))
	})
}

// TestRegression5ForgottenHostBreaksPerHostCap: the host wrongly lingering
// is pruned by the reaper after IdleTimeout while its conn is still in use;
// the next request to it makes a second hostPool for the same key and
// dials past MaxConnsPerHost, and the in-use conn is then accounted in the
// total but under no host.
func TestRegression5ForgottenHostBreaksPerHostCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		var once sync.Once
		release := func() { once.Do(func() { close(hold) }) }
		srv := &pipeServer{serve: serveOK(hold)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, IdleTimeout: time.Minute, MaxConnsPerHost: 1})
		defer c.Close()
		defer release()
		const url = "http://10.255.0.1:80"
		held := regression5StaleTake(t, c, url)
		require.Equal(t, 2, srv.dialed)

		// A long request: the reaper prunes the "empty" host meanwhile.
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		assert.Equal(t, 1, c.Stats().InUse)
		assert.Equal(t, 1, asynchttp.HostCount(c), "a host with a conn in use stays in the map")

		second := make(chan error, 1)
		go func() {
			_, _, err := get(t.Context(), c, "GET", url+"/")
			second <- err
		}()
		synctest.Wait()
		srv.mu.Lock()
		dialed := srv.dialed
		srv.mu.Unlock()
		assert.Equal(t, 2, dialed, "MaxConnsPerHost 1: the second request waits for the held conn")
		assert.LessOrEqual(t, c.Stats().Open, 1, "open conns to one host over MaxConnsPerHost")

		release()
		require.NoError(t, <-held)
		require.NoError(t, <-second)
		assert.Empty(t, asynchttp.CheckInvariants(c))
	})
}
