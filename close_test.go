// Client.Close: waiters and later calls fail with ErrClientClosed, requests
// in flight finish, and dials, TLS handshakes and Bootstrap in progress
// stop.

package asynchttp_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCloseFailsWaitersAndLaterCalls(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	g := newGate()
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait(r)
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	holder := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()); holder <- err }()
	eventually(t, "holder in flight", func() bool { return g.inside.Load() == 1 })
	waiter := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()); waiter <- err }()
	eventually(t, "waiter queued", func() bool { return c.Stats().Waiting == 1 })

	require.NoError(t, c.Close())
	require.ErrorIs(t, <-waiter, asynchttp.ErrClientClosed)
	g.open()
	require.NoError(t, <-holder, "a request in flight completes")
	_, _, err := get(ctx, c, "GET", srv.URL())
	require.ErrorIs(t, err, asynchttp.ErrClientClosed)
	st := c.Stats()
	assert.Zero(t, st.Open, "the in-use conn was closed on release")
	srv.WaitOpen(t, 0, 5*time.Second)
}

// A caller waiting only for a total slot (its host has no conn) fails with
// ErrClientClosed at Close; afterwards every host is empty and lingers, none
// keeps a conn or a waiter.
func TestCloseFailsTotalSlotWaiterAndEmptiesHosts(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxTotalConns: 1})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	srvA := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "a")
	}))
	srvB := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "b")
	}))
	ctx := testCtx(t)
	holder := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srvA.URL()); holder <- err }()
	require.True(t, recvWithin(entered, 10*time.Second), "holder in flight")
	waiter := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srvB.URL()); waiter <- err }()
	eventually(t, "waiter queued for a total slot", func() bool { return c.Stats().Waiting == 1 })

	require.NoError(t, c.Close())
	require.ErrorIs(t, <-waiter, asynchttp.ErrClientClosed)
	close(release)
	require.NoError(t, <-holder)
	assert.Empty(t, asynchttp.CheckInvariants(c), "after Close every host is empty and lingers")
	assert.Zero(t, asynchttp.ActiveHostCount(c), "hosts with conns or waiters after Close")
}

// Client.Close stops a TLS handshake in progress as it stops a dial: the
// handshake runs under the dial's context, which Close cancels, not only
// under the caller's; the caller gets ErrClientClosed.
func TestCloseStopsTLSHandshake(t *testing.T) {
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

// Close stops a Prewarm whose Bootstrap waits on its context: Bootstrap
// gets the dial's context, which Close cancels, so neither its goroutine
// nor its socket outlives Close (the caller's own context is still live).
func TestCloseStopsPrewarmBootstrap(t *testing.T) {
	entered := make(chan struct{}, 1)
	c := newClient(t, asynchttp.Config{Bootstrap: func(ctx context.Context, nc net.Conn) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := c.Prewarm(ctx, srv.URL(), 1); done <- err }()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("Bootstrap never ran")
	}
	require.NoError(t, c.Close())
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("Prewarm still running after Close: its Bootstrap's ctx was not canceled")
	}
}
