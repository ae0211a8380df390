// Instrument: request and connection instruments recorded from a real
// client's Events, read through the SDK's ManualReader.

package asynchttpotel_test

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpotel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

const (
	durationName   = "http.client.request.duration"
	activeName     = "http.client.active_requests"
	connDurName    = "http.client.connection.duration"
	openConnsName  = "http.client.open_connections"
	timeInQueue    = "http.client.request.time_in_queue"
	closedConnName = "asynchttp.client.connection.closed"
)

// serverAttrs are server.address, server.port and url.scheme of tg.
func serverAttrs(tg target) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("server.address", "127.0.0.1"),
		attribute.Int("server.port", tg.port),
		attribute.String("url.scheme", "http"),
	}
}

// activeAttrs are the attributes of http.client.active_requests.
func activeAttrs(tg target, method string) []attribute.KeyValue {
	return append(serverAttrs(tg), attribute.String("http.request.method", method))
}

// durationAttrs are the attributes of http.client.request.duration; a
// status of 0 or an empty errType leaves that attribute out.
func durationAttrs(tg target, method string, status int, errType string) []attribute.KeyValue {
	kv := append(activeAttrs(tg, method), attribute.String("network.protocol.version", "1.1"))
	if status != 0 {
		kv = append(kv, attribute.Int("http.response.status_code", status))
	}
	if errType != "" {
		kv = append(kv, attribute.String("error.type", errType))
	}
	return kv
}

func instrumented(t *testing.T, cfg asynchttp.Config, opts ...asynchttpotel.Option) (*meterProvider, *asynchttp.Client) {
	t.Helper()
	mp := newMeterProvider(t)
	require.NoError(t, asynchttpotel.Instrument(&cfg, append(opts, asynchttpotel.WithMeterProvider(mp))...))
	c := asynchttp.New(cfg)
	t.Cleanup(func() { c.Close() })
	return mp, c
}

func TestRequestDurationRecordsStatusAndErrorType(t *testing.T) {
	tg := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, "ok")
	})
	mp, c := instrumented(t, asynchttp.Config{})
	ctx := context.Background()
	for range 2 {
		status, err := do(ctx, c, "GET", tg.url+"/")
		require.NoError(t, err)
		require.Equal(t, 200, status)
	}
	status, err := do(ctx, c, "POST", tg.url+"/busy")
	require.NoError(t, err)
	require.Equal(t, 503, status)

	got := mp.collect(t)
	m := got[durationName]
	assert.Equal(t, "s", m.Unit)
	assert.Equal(t, "Duration of HTTP client requests.", m.Description)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%T", m.Data)
	assert.Equal(t, metricdata.CumulativeTemporality, h.Temporality)
	assert.Len(t, h.DataPoints, 2)

	okPoint, found := got.hist(t, durationName, durationAttrs(tg, "GET", 200, "")...)
	require.True(t, found, "no 200 point in %v", h.DataPoints)
	assert.Equal(t, uint64(2), okPoint.Count)
	assert.Equal(t, asynchttpotel.RequestDurationBuckets, okPoint.Bounds)
	assert.Equal(t, []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}, okPoint.Bounds)
	assert.Greater(t, okPoint.Sum, 0.0)

	// A status of 400 or more is an error: error.type is the code.
	busy, found := got.hist(t, durationName, durationAttrs(tg, "POST", 503, "503")...)
	require.True(t, found, "no 503 point in %v", h.DataPoints)
	assert.Equal(t, uint64(1), busy.Count)

	// Every request that started has ended.
	a := got[activeName]
	assert.Equal(t, "{request}", a.Unit)
	s, ok := a.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%T", a.Data)
	assert.False(t, s.IsMonotonic)
	for _, method := range []string{"GET", "POST"} {
		v, found := got.sum(t, activeName, activeAttrs(tg, method)...)
		assert.True(t, found, method)
		assert.Zero(t, v, method)
	}
	// Nobody had to wait for a connection.
	assert.Zero(t, got.histCount(t, timeInQueue))
}

func TestFailedRequestsReportErrorType(t *testing.T) {
	ctx := context.Background()

	t.Run("connection refused", func(t *testing.T) {
		tg := refusedTarget(t)
		mp, c := instrumented(t, asynchttp.Config{})
		_, err := do(ctx, c, "GET", tg.url+"/")
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
		got := mp.collect(t)
		dp, found := got.hist(t, durationName, durationAttrs(tg, "GET", 0, "connection_refused")...)
		require.True(t, found, "%v", got[durationName].Data)
		assert.Equal(t, uint64(1), dp.Count)
		v, _ := got.sum(t, activeName, activeAttrs(tg, "GET")...)
		assert.Zero(t, v)
		// No connection was made, so none was closed.
		assert.Zero(t, got.points(closedConnName))
		assert.Zero(t, got.points(connDurName))
	})

	// The server holds each request until the client goes away.
	holding := func(t *testing.T) (target, <-chan struct{}) {
		arrived := make(chan struct{}, 1)
		tg := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-r.Context().Done()
		})
		return tg, arrived
	}

	t.Run("canceled", func(t *testing.T) {
		tg, arrived := holding(t)
		closed := make(chan asynchttp.CloseReason, 1)
		cfg := asynchttp.Config{Events: asynchttp.Events{
			ConnClosed: func(_ asynchttp.ConnInfo, why asynchttp.CloseReason) { closed <- why },
		}}
		mp, c := instrumented(t, cfg)
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		res := make(chan error, 1)
		go func() {
			_, err := do(rctx, c, "GET", tg.url+"/")
			res <- err
		}()
		recv(t, arrived, "the request at the server")
		cancel()
		require.ErrorIs(t, recv(t, res, "Do to return"), context.Canceled)
		assert.Equal(t, asynchttp.CloseCanceled, recv(t, closed, "the connection's close"))

		got := mp.collect(t)
		dp, found := got.hist(t, durationName, durationAttrs(tg, "GET", 0, "canceled")...)
		require.True(t, found, "%v", got[durationName].Data)
		assert.Equal(t, uint64(1), dp.Count)
		st := c.Stats().Hosts[tg.key()]
		n, found := got.sum(t, closedConnName, append(serverAttrs(tg), attribute.String("asynchttp.close_reason", "canceled"))...)
		require.True(t, found)
		assert.Equal(t, int64(st.ClosedBy[asynchttp.CloseCanceled]), n)
		assert.Equal(t, int64(1), n)
	})

	t.Run("deadline", func(t *testing.T) {
		tg, _ := holding(t)
		mp, c := instrumented(t, asynchttp.Config{})
		// The server never answers: only the deadline ends the request.
		rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := do(rctx, c, "GET", tg.url+"/")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		got := mp.collect(t)
		dp, found := got.hist(t, durationName, durationAttrs(tg, "GET", 0, "timeout")...)
		require.True(t, found, "%v", got[durationName].Data)
		assert.Equal(t, uint64(1), dp.Count)
	})
}

func TestHeldRequestIsActiveThenIdle(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	tg := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "done")
	})
	mp, c := instrumented(t, asynchttp.Config{})
	unregister, err := asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(mp))
	require.NoError(t, err)
	defer unregister()

	res := make(chan error, 1)
	go func() {
		_, err := do(context.Background(), c, "GET", tg.url+"/")
		res <- err
	}()
	recv(t, arrived, "the request at the server")

	conn := append(serverAttrs(tg), attribute.String("network.protocol.version", "1.1"))
	active := append(conn, attribute.String("http.connection.state", "active"))
	idle := append(conn[:len(conn):len(conn)], attribute.String("http.connection.state", "idle"))

	st := c.Stats().Hosts[tg.key()]
	got := mp.collect(t)
	require.Equal(t, 1, st.InUse)
	require.Equal(t, 0, st.Idle)
	v, found := got.sum(t, activeName, activeAttrs(tg, "GET")...)
	require.True(t, found)
	assert.Equal(t, int64(1), v)
	v, found = got.sum(t, openConnsName, active...)
	require.True(t, found, "%v", got[openConnsName].Data)
	assert.Equal(t, int64(st.InUse), v)
	v, found = got.sum(t, openConnsName, idle...)
	require.True(t, found)
	assert.Equal(t, int64(st.Idle), v)
	assert.Equal(t, "{connection}", got[openConnsName].Unit)

	close(release)
	require.NoError(t, recv(t, res, "Do to return"))

	st = c.Stats().Hosts[tg.key()]
	got = mp.collect(t)
	require.Equal(t, 0, st.InUse)
	require.Equal(t, 1, st.Idle)
	v, _ = got.sum(t, activeName, activeAttrs(tg, "GET")...)
	assert.Zero(t, v)
	v, _ = got.sum(t, openConnsName, active...)
	assert.Equal(t, int64(st.InUse), v)
	v, _ = got.sum(t, openConnsName, idle...)
	assert.Equal(t, int64(st.Idle), v)
}

func TestTimeInQueueRecordsRequestsThatWaited(t *testing.T) {
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	tg := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "done")
	})
	mp, c := instrumented(t, asynchttp.Config{MaxConnsPerHost: 1})
	unregister, err := asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(mp))
	require.NoError(t, err)
	defer unregister()

	res := make(chan error, 2)
	send := func() {
		_, err := do(context.Background(), c, "GET", tg.url+"/")
		res <- err
	}
	go send()
	recv(t, arrived, "the first request at the server")
	go send()
	// The second caller queues behind the only connection.
	deadline := time.Now().Add(waitLimit)
	for c.Stats().Hosts[tg.key()].Waiting != 1 {
		require.True(t, time.Now().Before(deadline), "the second request never waited")
		time.Sleep(time.Millisecond)
	}

	st := c.Stats().Hosts[tg.key()]
	got := mp.collect(t)
	hostAttrs := append(serverAttrs(tg), attribute.String("network.protocol.version", "1.1"))
	v, found := got.sum(t, asynchttpotel.RequestWaitingName, hostAttrs...)
	require.True(t, found)
	assert.Equal(t, int64(st.Waiting), v)
	v, _ = got.sum(t, activeName, activeAttrs(tg, "GET")...)
	assert.Equal(t, int64(2), v)
	v, _ = got.sum(t, asynchttpotel.ConnectionDialingName, hostAttrs...)
	assert.Equal(t, int64(st.Dialing), v)

	close(release)
	require.NoError(t, recv(t, res, "the first Do"))
	require.NoError(t, recv(t, res, "the second Do"))

	st = c.Stats().Hosts[tg.key()]
	got = mp.collect(t)
	require.Equal(t, uint64(1), st.Waits)
	dp, found := got.hist(t, timeInQueue, durationAttrs(tg, "GET", 0, "")...)
	require.True(t, found, "%v", got[timeInQueue].Data)
	assert.Equal(t, st.Waits, dp.Count, "only the request that queued is recorded")
	assert.Equal(t, asynchttpotel.RequestDurationBuckets, dp.Bounds)
	assert.InDelta(t, st.WaitTime.Seconds(), dp.Sum, 1e-9)
	assert.Equal(t, "s", got[timeInQueue].Unit)
	v, _ = got.sum(t, asynchttpotel.RequestWaitingName, hostAttrs...)
	assert.Zero(t, v)
}

func TestConnectionDurationAndClosesMatchStats(t *testing.T) {
	tg := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/last" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
	})
	closed := make(chan asynchttp.CloseReason, 4)
	cfg := asynchttp.Config{Events: asynchttp.Events{
		ConnClosed: func(_ asynchttp.ConnInfo, why asynchttp.CloseReason) { closed <- why },
	}}
	mp, c := instrumented(t, cfg, asynchttpotel.WithNetworkPeerAddress())
	ctx := context.Background()
	for _, path := range []string{"/", "/last", "/"} {
		_, err := do(ctx, c, "GET", tg.url+path)
		require.NoError(t, err)
	}
	c.CloseIdleConnections()
	assert.Equal(t, asynchttp.CloseNotReusable, recv(t, closed, "the first close"))
	assert.Equal(t, asynchttp.CloseIdleClosed, recv(t, closed, "the second close"))

	st := c.Stats().Hosts[tg.key()]
	got := mp.collect(t)
	require.Equal(t, uint64(2), st.Closed)
	require.Len(t, st.ClosedBy, 2)
	assert.Equal(t, len(st.ClosedBy), got.points(closedConnName))
	for why, n := range st.ClosedBy {
		v, found := got.sum(t, closedConnName, append(serverAttrs(tg), attribute.String("asynchttp.close_reason", why.String()))...)
		require.True(t, found, why.String())
		assert.Equal(t, int64(n), v, why.String())
	}
	m := got[closedConnName]
	assert.Equal(t, "{connection}", m.Unit)
	s, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%T", m.Data)
	assert.True(t, s.IsMonotonic)

	dp, found := got.hist(t, connDurName, append(serverAttrs(tg),
		attribute.String("network.protocol.version", "1.1"),
		attribute.String("network.peer.address", "127.0.0.1"))...)
	require.True(t, found, "%v", got[connDurName].Data)
	assert.Equal(t, st.Closed, dp.Count)
	assert.Equal(t, asynchttpotel.ConnectionDurationBuckets, dp.Bounds)
	assert.Equal(t, []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}, dp.Bounds)
	assert.Equal(t, "s", got[connDurName].Unit)
	assert.Equal(t, "The duration of the successfully established outbound HTTP connections.", got[connDurName].Description)
}

func TestUserCallbacksStillCalled(t *testing.T) {
	tg := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	starts := make(chan asynchttp.RequestInfo, 1)
	dones := make(chan asynchttp.RequestInfo, 1)
	created := make(chan asynchttp.ConnInfo, 1)
	closed := make(chan asynchttp.CloseReason, 1)
	cfg := asynchttp.Config{Events: asynchttp.Events{
		RequestStart: func(ri asynchttp.RequestInfo) { starts <- ri },
		RequestDone:  func(ri asynchttp.RequestInfo) { dones <- ri },
		ConnCreated:  func(ci asynchttp.ConnInfo) { created <- ci },
		ConnClosed:   func(_ asynchttp.ConnInfo, why asynchttp.CloseReason) { closed <- why },
	}}
	mp, c := instrumented(t, cfg)
	_, err := do(context.Background(), c, "GET", tg.url+"/")
	require.NoError(t, err)
	c.CloseIdleConnections()

	start := recv(t, starts, "RequestStart")
	assert.Equal(t, "GET", start.Method)
	assert.Equal(t, tg.key(), start.Host)
	done := recv(t, dones, "RequestDone")
	assert.Equal(t, 200, done.StatusCode)
	assert.NoError(t, done.Err)
	assert.Equal(t, tg.key(), recv(t, created, "ConnCreated").Host)
	assert.Equal(t, asynchttp.CloseIdleClosed, recv(t, closed, "ConnClosed"))

	// ... and the metrics were recorded too.
	got := mp.collect(t)
	dp, found := got.hist(t, durationName, durationAttrs(tg, "GET", 200, "")...)
	require.True(t, found)
	assert.Equal(t, uint64(1), dp.Count)
	assert.Equal(t, uint64(1), got.histCount(t, connDurName))
}

func TestMethodsOutsideTheKnownListAreOther(t *testing.T) {
	tg := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for _, tt := range []struct {
		name   string
		env    string // KnownMethodsEnv; "-" leaves it unset
		opts   []asynchttpotel.Option
		method string
		want   string
	}{
		{"default list", "-", nil, "GET", "GET"},
		{"default list knows QUERY", "-", nil, "QUERY", "QUERY"},
		{"unknown method", "-", nil, "PURGE", "_OTHER"},
		{"methods are case-sensitive", "-", nil, "get", "_OTHER"},
		{"option adds", "-", []asynchttpotel.Option{asynchttpotel.WithKnownMethods("PURGE")}, "PURGE", "PURGE"},
		{"option replaces", "-", []asynchttpotel.Option{asynchttpotel.WithKnownMethods("PURGE")}, "GET", "_OTHER"},
		{"environment", "GET, PURGE", nil, "PURGE", "PURGE"},
		{"environment replaces", "PURGE", nil, "GET", "_OTHER"},
		{"option beats environment", "PURGE", []asynchttpotel.Option{asynchttpotel.WithKnownMethods("GET")}, "GET", "GET"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "-" {
				t.Setenv(asynchttpotel.KnownMethodsEnv, tt.env)
			}
			mp, c := instrumented(t, asynchttp.Config{}, tt.opts...)
			_, err := do(context.Background(), c, tt.method, tg.url+"/")
			require.NoError(t, err)
			got := mp.collect(t)
			dp, found := got.hist(t, durationName, durationAttrs(tg, tt.want, 200, "")...)
			require.True(t, found, "%v", got[durationName].Data)
			assert.Equal(t, uint64(1), dp.Count)
			_, found = got.sum(t, activeName, activeAttrs(tg, tt.want)...)
			assert.True(t, found)
		})
	}
}

func TestInstrumentRejectsBadInput(t *testing.T) {
	require.Error(t, asynchttpotel.Instrument(nil))

	var cfg asynchttp.Config
	require.Error(t, asynchttpotel.Instrument(&cfg, nil))
	require.Error(t, asynchttpotel.Instrument(&cfg, asynchttpotel.WithMeterProvider(nil)))
	// A refused call leaves the Config as it was.
	assert.Nil(t, cfg.Events.RequestStart)
	assert.Nil(t, cfg.Events.RequestDone)
	assert.Nil(t, cfg.Events.ConnClosed)

	_, err := asynchttpotel.ObserveStats(nil)
	require.Error(t, err)
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	_, err = asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(nil))
	require.Error(t, err)
}

func TestRoundTripRequestsAreRecorded(t *testing.T) {
	tg := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	})
	mp, c := instrumented(t, asynchttp.Config{})
	hc := &http.Client{Transport: c}
	for _, path := range []string{"/", "/missing"} {
		resp, err := hc.Get(tg.url + path)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	got := mp.collect(t)
	dp, found := got.hist(t, durationName, durationAttrs(tg, "GET", 200, "")...)
	require.True(t, found, "%v", got[durationName].Data)
	assert.Equal(t, uint64(1), dp.Count)
	dp, found = got.hist(t, durationName, durationAttrs(tg, "GET", 404, "404")...)
	require.True(t, found, "%v", got[durationName].Data)
	assert.Equal(t, uint64(1), dp.Count)
	v, _ := got.sum(t, activeName, activeAttrs(tg, "GET")...)
	assert.Zero(t, v)
}
