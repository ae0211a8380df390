// MaxConcurrentDials: dials and handshakes in flight across the Client
// stay under the cap, and a caller waiting for a dial slot can give up.

package asynchttp_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedDialer counts the dials in flight and holds each until open is
// closed.
type gatedDialer struct {
	srv  timedServer
	open chan struct{}

	mu           sync.Mutex
	inFlight, pk int
}

func (d *gatedDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.inFlight++
	d.pk = max(d.pk, d.inFlight)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.inFlight--
		d.mu.Unlock()
	}()
	select {
	case <-d.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return d.srv.dial(ctx, network, addr)
}

func (d *gatedDialer) counts() (inFlight, peak int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inFlight, d.pk
}

func TestMaxConcurrentDialsCapsDialsAcrossHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &gatedDialer{open: make(chan struct{})}
		c := asynchttp.New(asynchttp.Config{Dial: d.dial, MaxConcurrentDials: 2})
		defer c.Close()
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				assert.NoError(t, sendVia(t.Context(), c, "Do", fmt.Sprintf("http://10.255.0.%d/", i+1)))
			})
		}
		synctest.Wait()
		inFlight, _ := d.counts()
		assert.Equal(t, 2, inFlight, "two dials go, four wait for a slot")
		close(d.open)
		wg.Wait()
		_, peak := d.counts()
		assert.Equal(t, 2, peak)
		st := c.Stats()
		assert.Equal(t, uint64(4), st.DialWaits)
		assert.Equal(t, 6, st.Open)
	})
}

func TestAWaitForADialSlotEndsWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &gatedDialer{open: make(chan struct{})}
		c := asynchttp.New(asynchttp.Config{Dial: d.dial, MaxConcurrentDials: 1})
		defer c.Close()
		first := make(chan error, 1)
		go func() { first <- sendVia(t.Context(), c, "Do", "http://10.255.0.1/") }()
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		second := make(chan error, 1)
		go func() { second <- sendVia(ctx, c, "RoundTrip", "http://10.255.0.2/") }()
		synctest.Wait()
		cancel()
		require.ErrorIs(t, <-second, context.Canceled)
		st := c.Stats()
		assert.Zero(t, st.Hosts["http://10.255.0.2:80"].Open, "the canceled caller holds no slot")
		close(d.open)
		require.NoError(t, <-first)
		require.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.2/"), "its dial slot was given back")
	})
}
