// Dialing: failures and timeouts give the slot back with the right error,
// Bootstrap runs once per new conn, and a shared name lookup survives its
// first caller's cancellation.

package asynchttp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDialFailureFreesTheSlot(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1, MaxTotalConns: 1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	ctx := testCtx(t)
	for range 3 {
		_, _, err := get(ctx, c, "GET", "http://"+addr+"/")
		require.Error(t, err)
		var oe *net.OpError
		require.ErrorAs(t, err, &oe)
	}
	st := c.Stats()
	assert.Zero(t, st.Open)
	assert.Zero(t, asynchttp.ActiveHostCount(c))
}

func TestDialTimeoutReturnsTimeoutError(t *testing.T) {
	c := newClient(t, asynchttp.Config{
		DialTimeout: 30 * time.Millisecond,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			<-ctx.Done() // a peer that never answers the SYN
			return nil, ctx.Err()
		},
	})
	_, _, err := get(testCtx(t), c, "GET", "http://127.0.0.1:1/")
	var te *asynchttp.TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "dial", te.Op)
	assert.True(t, te.Timeout())
	assert.NotErrorIs(t, err, context.Canceled)
	assert.Zero(t, c.Stats().Open)
}

// TestDialCutByContextDeadlineReportsDeadlineExceeded: a dial cut off by the
// caller's deadline reports context.DeadlineExceeded, like every other
// phase. The dialer here behaves like net.Dialer, which turns the context's
// deadline into a socket deadline: its i/o timeout can come back a moment
// before the context's own timer has marked the context done.
func TestDialCutByContextDeadlineReportsDeadlineExceeded(t *testing.T) {
	c := newClient(t, asynchttp.Config{
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dl, _ := ctx.Deadline()
			for time.Now().Before(dl) {
				runtime.Gosched()
			}
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.ErrDeadlineExceeded}
		},
	})
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
		_, _, err := get(ctx, c, "GET", "http://127.0.0.1:1/")
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "attempt %d", i)
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout())
	}
	checkPoolEmpty(t, c)
}

func TestBootstrapRunsOncePerNewConn(t *testing.T) {
	var calls atomic.Int32
	fail := errors.New("handshake refused")
	c := newClient(t, asynchttp.Config{Bootstrap: func(ctx context.Context, nc net.Conn) error {
		if calls.Add(1) == 1 {
			return fail
		}
		return nc.(*net.TCPConn).SetNoDelay(true)
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx := testCtx(t)
	_, _, err := get(ctx, c, "GET", srv.URL())
	require.ErrorIs(t, err, fail)
	assert.Zero(t, c.Stats().Open)
	for range 3 {
		_, _, err = get(ctx, c, "GET", srv.URL())
		require.NoError(t, err)
	}
	assert.Equal(t, int32(2), calls.Load(), "once per new connection")
}

// A starts resolving a name; B needs a new conn to the same name and
// shares A's lookup. A's context is then canceled: B, whose own context is
// live, must not fail with A's cancellation, and the name is looked up
// once.
func TestSharedLookupSurvivesFirstCallersCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &pipeServer{serve: serveOK(nil)}
		var calls atomic.Int32
		lookup := func(ctx context.Context, host string) ([]string, error) {
			calls.Add(1)
			select { // a slow DNS server; honours ctx
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Second):
				return []string{"10.255.0.1"}, nil
			}
		}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, LookupHost: lookup})
		defer c.Close()
		actx, cancelA := context.WithCancel(t.Context())
		defer cancelA()
		aErr := make(chan error, 1)
		go func() { _, _, err := get(actx, c, "GET", "http://app.test/"); aErr <- err }()
		synctest.Wait() // A is in LookupHost
		bErr := make(chan error, 1)
		go func() { _, _, err := get(t.Context(), c, "GET", "http://app.test/"); bErr <- err }()
		synctest.Wait() // B waits for A's lookup
		cancelA()
		require.ErrorIs(t, <-aErr, context.Canceled)
		require.NoError(t, <-bErr, "B's context is live: A's cancellation must not fail B")
		assert.Equal(t, int32(1), calls.Load(), "one lookup, shared")
	})
}
