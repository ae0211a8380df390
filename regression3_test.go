// Regression tests from the third review: each reproduced a bug, now fixed.

package asynchttp_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/require"
)

// TestReview3DrainHostAfterReserveBeforeDial: a DrainHost that comes after
// a conn's dial slot was reserved (the host counts it as dialing) but
// before dial() snapshots drainGen is missed: the new conn is kept idle.
// Here the window is made deterministic with the evicted victim's
// ConnClosed callback, which runs between reserveLocked and dial.
func TestRegression3DrainHostAfterReserveBeforeDial(t *testing.T) {
	ctx := testCtx(t)
	var c *asynchttp.Client
	var bURL, aKey string
	var drained atomic.Bool
	c = newClient(t, asynchttp.Config{
		MaxTotalConns: 1,
		Events: asynchttp.Events{ConnClosed: func(ci asynchttp.ConnInfo, why asynchttp.CloseReason) {
			if why == asynchttp.CloseEvicted && ci.Host == aKey && !drained.Swap(true) {
				ok, err := c.DrainHost(bURL) // B's conn is reserved and about to be dialed
				if err != nil || !ok {
					t.Errorf("DrainHost: %v %v", ok, err)
				}
			}
		}},
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	a := testserver.NewCounting(t, h)
	b := testserver.NewCounting(t, h)
	aKey, bURL = a.URL(), b.URL()

	_, _, err := get(ctx, c, "GET", a.URL()+"/")
	require.NoError(t, err)
	_, _, err = get(ctx, c, "GET", b.URL()+"/") // evicts A's idle conn
	require.NoError(t, err)
	require.True(t, drained.Load())
	// The conn was being dialed when B was drained: it must not be reused.
	_, _, err = get(ctx, c, "GET", b.URL()+"/")
	require.NoError(t, err)
	require.Equal(t, 2, b.Accepted(), "a conn dialed across DrainHost was reused")
}

// TestReview3CloseStopsTLSHandshake: Client.Close cancels dials in flight
// through p.dials, but the TLS handshake runs on the caller's ctx, not on
// the tracked dctx: a handshake in progress is not stopped by Close.
func TestRegression3CloseStopsTLSHandshake(t *testing.T) {
	c := newClient(t, asynchttp.Config{TLSHandshakeTimeout: -1})
	hello := make(chan struct{}, 1)
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		var one [1]byte
		if _, err := nc.Read(one[:]); err != nil {
			return
		}
		hello <- struct{}{} // the ClientHello is here: the handshake is under way
		io.Copy(io.Discard, nc)
	})
	ctx, cancel := context.WithTimeout(testCtx(t), 3*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := get(ctx, c, "GET", "https://"+srv.Addr()+"/")
		done <- err
	}()
	<-hello
	require.NoError(t, c.Close())
	err := <-done
	require.ErrorIs(t, err, asynchttp.ErrClientClosed)
}
