// Events.RequestStart and RequestDone: one report per request through
// every way in, with what an exporter of request metrics needs.

package asynchttp_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requestLog records the request events of a client.
type requestLog struct {
	mu     sync.Mutex
	starts []asynchttp.RequestInfo
	dones  []asynchttp.RequestInfo
}

func (l *requestLog) events() asynchttp.Events {
	return asynchttp.Events{
		RequestStart: func(i asynchttp.RequestInfo) { l.mu.Lock(); l.starts = append(l.starts, i); l.mu.Unlock() },
		RequestDone:  func(i asynchttp.RequestInfo) { l.mu.Lock(); l.dones = append(l.dones, i); l.mu.Unlock() },
	}
}

func (l *requestLog) snapshot() (starts, dones []asynchttp.RequestInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]asynchttp.RequestInfo(nil), l.starts...), append([]asynchttp.RequestInfo(nil), l.dones...)
}

func TestRequestEventsThroughDo(t *testing.T) {
	var log requestLog
	c := newClient(t, asynchttp.Config{Events: log.events()})
	srv, _ := holdServer(t)
	ctx := testCtx(t)
	for range 2 {
		code, _, err := get(ctx, c, "POST", srv.URL()+"/a")
		require.NoError(t, err)
		require.Equal(t, 200, code)
	}
	starts, dones := log.snapshot()
	require.Len(t, starts, 2)
	require.Len(t, dones, 2)
	host := "http://" + strings.TrimPrefix(srv.URL(), "http://")
	assert.Equal(t, asynchttp.RequestInfo{Method: "POST", Host: host}, starts[0])
	assert.Equal(t, "POST", dones[0].Method)
	assert.Equal(t, host, dones[0].Host)
	assert.Equal(t, 200, dones[0].StatusCode)
	assert.NoError(t, dones[0].Err)
	assert.Equal(t, 1, dones[0].Attempts)
	assert.False(t, dones[0].Reused, "the first request dials")
	assert.True(t, dones[1].Reused, "the second reuses the idle conn")
	assert.Positive(t, dones[1].Duration)
	assert.Zero(t, dones[0].Wait, "no cap was reached")
}

func TestRequestEventsReportWaitAndFailure(t *testing.T) {
	var log requestLog
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1, Events: log.events()})
	srv, g := holdServer(t)
	ctx := testCtx(t)

	first := c.Execute(ctx, getRequest(srv.URL()+"/hold"))
	eventually(t, "the first request is held", func() bool { return g.inside.Load() == 1 })
	second := c.Execute(ctx, getRequest(srv.URL()+"/b"))
	eventually(t, "the second waits", func() bool { return c.Stats().Waiting == 1 })
	g.open()
	for _, f := range []*asynchttp.Future{first, second} {
		resp, err := f.Wait()
		require.NoError(t, err)
		asynchttp.ReleaseResponse(resp)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()
	_, _, err = get(ctx, c, "GET", refused)
	require.Error(t, err)

	_, dones := log.snapshot()
	require.Len(t, dones, 3)
	var waited asynchttp.RequestInfo
	for _, d := range dones[:2] {
		if d.Wait > 0 {
			waited = d
		}
	}
	assert.Positive(t, waited.Wait, "the request that found the cap full reports its wait")
	assert.GreaterOrEqual(t, waited.Duration, waited.Wait)
	failed := dones[2]
	assert.Equal(t, 0, failed.StatusCode)
	assert.Error(t, failed.Err)
	assert.Equal(t, 0, failed.Attempts, "no connection was had")
}

func getRequest(url string) *asynchttp.Request {
	req := asynchttp.AcquireRequest()
	req.SetRequestURI(url)
	return req
}

func TestRequestEventsThroughRoundTripEndWithTheBody(t *testing.T) {
	var log requestLog
	c := newClient(t, asynchttp.Config{Events: log.events()})
	srv, _ := holdServer(t)
	resp, err := (&http.Client{Transport: c}).Get(srv.URL() + "/x")
	require.NoError(t, err)
	_, dones := log.snapshot()
	assert.Empty(t, dones, "not done while the body is unread")
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	starts, dones := log.snapshot()
	require.Len(t, starts, 1)
	require.Len(t, dones, 1)
	assert.Equal(t, "GET", dones[0].Method)
	assert.Equal(t, 200, dones[0].StatusCode)
	assert.NoError(t, dones[0].Err)

	// A body closed unread is the caller's choice, not a failure.
	resp, err = (&http.Client{Transport: c}).Get(srv.URL() + "/y")
	require.NoError(t, err)
	resp.Body.Close()
	_, dones = log.snapshot()
	require.Len(t, dones, 2)
	assert.NoError(t, dones[1].Err)

	// A failure is reported with the error RoundTrip returned.
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/z", nil)
	_, err = c.RoundTrip(req)
	require.ErrorIs(t, err, context.Canceled)
	_, dones = log.snapshot()
	require.Len(t, dones, 3)
	assert.Equal(t, context.Canceled, dones[2].Err)
}

func TestRequestEventsThroughUpgradeAndHandler(t *testing.T) {
	var log requestLog
	c := newClient(t, asynchttp.Config{Events: log.events()})
	up := upgradeServer(t, nil)
	resp, err := (&http.Client{Transport: c}).Do(upgradeRequest(t, testCtx(t), up.URL()))
	require.NoError(t, err)
	defer resp.Body.Close()
	_, dones := log.snapshot()
	require.Len(t, dones, 1, "an upgrade is done at the 101")
	assert.Equal(t, 101, dones[0].StatusCode)

	srv, _ := holdServer(t)
	f := c.ExecuteHandler(testCtx(t), getRequest(srv.URL()+"/h"), nopHandler{})
	r, err := f.Wait()
	require.NoError(t, err)
	asynchttp.ReleaseResponse(r)
	starts, dones := log.snapshot()
	require.Len(t, starts, 2)
	require.Len(t, dones, 2)
	assert.Equal(t, 200, dones[1].StatusCode)
}

func TestRequestEventsSurviveAPanickingHook(t *testing.T) {
	var log requestLog
	c := newClient(t, asynchttp.Config{Events: log.events()})
	srv, _ := holdServer(t)
	func() {
		defer func() { recover() }()
		ctx := httptrace.WithClientTrace(testCtx(t), &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { panic("hook") },
		})
		get(ctx, c, "GET", srv.URL()+"/p")
	}()
	starts, dones := log.snapshot()
	require.Len(t, starts, 1)
	require.Len(t, dones, 1, "a request cut short by a panic is still done")
	assert.Error(t, dones[0].Err)
}

func BenchmarkDoWithRequestEvents(b *testing.B) {
	benchDo(b, asynchttp.Config{Events: asynchttp.Events{
		RequestStart: func(asynchttp.RequestInfo) {},
		RequestDone:  func(asynchttp.RequestInfo) {},
	}})
}
