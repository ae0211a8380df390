// DrainHost: idle conns close at once; conns in use, dialing or reserved
// for a dial close when released; proxied Stats keys are accepted.

package asynchttp_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDrainHostRetiresIdleAndInUseConns(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	g := newGate()
	var lastClose atomic.Bool
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			g.wait(r)
			lastClose.Store(r.Close)
		}
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _, _, err := get(ctx, c, "GET", srv.URL()+"/warm"); assert.NoError(t, err) })
	}
	wg.Wait()
	// Idle conns (one or two), then one more in use.
	held := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()+"/hold"); held <- err }()
	eventually(t, "held", func() bool { return g.inside.Load() == 1 })
	before := c.Stats()
	require.Equal(t, 1, before.InUse)
	idleBefore := before.Idle

	ok, err := c.DrainHost(srv.URL())
	require.NoError(t, err)
	assert.True(t, ok)
	st := c.Stats()
	assert.Zero(t, st.Idle)
	assert.Equal(t, uint64(idleBefore), st.ClosedBy[asynchttp.CloseDrained])
	g.open()
	require.NoError(t, <-held)
	assert.Zero(t, c.Stats().Open, "the in-use conn closed on release")
	assert.Equal(t, uint64(idleBefore+1), c.Stats().ClosedBy[asynchttp.CloseDrained])

	// New connections are not affected.
	_, _, err = get(ctx, c, "GET", srv.URL())
	require.NoError(t, err)
	assert.Equal(t, 1, c.Stats().Idle)

	_, err = c.DrainHost("http://bad host/")
	require.ErrorIs(t, err, asynchttp.ErrInvalidRequest)
	ok, err = c.DrainHost("http://127.0.0.1:1")
	require.NoError(t, err)
	assert.False(t, ok)
}

// TestDrainHostRetiresDialingConns: a conn being dialed when DrainHost runs is
// retired when released, like the conns in use.
func TestDrainHostRetiresDialingConns(t *testing.T) {
	dialing := make(chan struct{})
	proceed := make(chan struct{})
	var d net.Dialer
	var first atomic.Bool
	c := newClient(t, asynchttp.Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if first.CompareAndSwap(false, true) {
			close(dialing)
			<-proceed
		}
		return d.DialContext(ctx, network, addr)
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	done := make(chan error, 1)
	go func() { _, _, err := get(testCtx(t), c, "GET", srv.URL()); done <- err }()
	<-dialing
	ok, err := c.DrainHost(srv.URL())
	require.NoError(t, err)
	assert.True(t, ok, "the host is in the pool while its conn dials")
	close(proceed)
	require.NoError(t, <-done)
	st := c.Stats()
	assert.Zero(t, st.Open)
	assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseDrained])
}

// A DrainHost that comes after a conn's dial slot was reserved (the host
// counts it as dialing) but before the dial starts still retires that conn:
// it is not kept idle. The window is made deterministic with the evicted
// victim's ConnClosed callback, which runs between the reservation and the
// dial.
func TestDrainHostRetiresConnReservedBeforeDial(t *testing.T) {
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

// DrainHost (and Prewarm) take a host key as in Stats.Hosts, including a
// proxied key ("http://app.test:80 via http://127.0.0.1:N"), which is not
// a URL.
func TestDrainHostAcceptsProxiedStatsKey(t *testing.T) {
	var paddr atomic.Value
	c := newClient(t, asynchttp.Config{Proxy: func(*http.Request) (*url.URL, error) {
		return url.Parse("http://" + paddr.Load().(string))
	}})
	proxy := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	paddr.Store(proxy.Addr())
	_, _, err := get(testCtx(t), c, "GET", "http://app.test/")
	require.NoError(t, err)
	st := c.Stats()
	require.Len(t, st.Hosts, 1)
	for key := range st.Hosts {
		ok, err := c.DrainHost(key)
		require.NoError(t, err, "key %q from Stats.Hosts", key)
		assert.True(t, ok)
	}
	assert.Zero(t, c.Stats().Idle)
}
