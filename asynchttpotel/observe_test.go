// ObserveStats: pool gauges read from Stats at collection time.

package asynchttpotel_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpotel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

func TestObserveStatsAloneReportsEveryHost(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
	a, b := newServer(t, handler), newServer(t, handler)
	mp := newMeterProvider(t)
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	unregister, err := asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(mp))
	require.NoError(t, err)
	defer unregister()

	ctx := context.Background()
	for _, tg := range []target{a, b, b} {
		_, err := do(ctx, c, "GET", tg.url+"/")
		require.NoError(t, err)
	}
	st := c.Stats()
	got := mp.collect(t)
	for _, tg := range []target{a, b} {
		hs := st.Hosts[tg.key()]
		conn := append(serverAttrs(tg), attribute.String("network.protocol.version", "1.1"))
		for state, want := range map[string]int{"active": hs.InUse, "idle": hs.Idle} {
			v, found := got.sum(t, openConnsName, append(conn[:len(conn):len(conn)], attribute.String("http.connection.state", state))...)
			require.True(t, found, state)
			assert.Equal(t, int64(want), v, state)
		}
		assert.Equal(t, 1, hs.Idle)
	}
	// Two hosts, two states each: no other series.
	assert.Equal(t, 4, got.points(openConnsName))
	// Without Instrument, nothing per request.
	assert.Zero(t, got.points(durationName))
}

func TestUnregisterStopsObservation(t *testing.T) {
	tg := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mp := newMeterProvider(t)
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	unregister, err := asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(mp))
	require.NoError(t, err)
	_, err = do(context.Background(), c, "GET", tg.url+"/")
	require.NoError(t, err)

	require.Equal(t, 2, mp.collect(t).points(openConnsName))
	require.NoError(t, unregister())
	got := mp.collect(t)
	assert.Zero(t, got.points(openConnsName))
	assert.Zero(t, got.points(asynchttpotel.ConnectionDialingName))
	assert.Zero(t, got.points(asynchttpotel.RequestWaitingName))
	assert.NoError(t, unregister(), "a second call is harmless")
}

// countingProvider is a MeterProvider that records the meters asked for
// and can refuse to make instruments.
type countingProvider struct {
	noop.MeterProvider
	names []string
	fail  bool
}

func (p *countingProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	p.names = append(p.names, name)
	if p.fail {
		return failingMeter{}
	}
	return p.MeterProvider.Meter(name, opts...)
}

type failingMeter struct{ noop.Meter }

var errRefused = errors.New("refused")

func (failingMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return noop.Float64Histogram{}, errRefused
}

func (failingMeter) Int64ObservableUpDownCounter(string, ...metric.Int64ObservableUpDownCounterOption) (metric.Int64ObservableUpDownCounter, error) {
	return noop.Int64ObservableUpDownCounter{}, errRefused
}

func TestGlobalMeterProviderIsTheDefault(t *testing.T) {
	prev := otel.GetMeterProvider()
	defer otel.SetMeterProvider(prev)
	p := &countingProvider{}
	otel.SetMeterProvider(p)

	var cfg asynchttp.Config
	require.NoError(t, asynchttpotel.Instrument(&cfg))
	c := asynchttp.New(cfg)
	defer c.Close()
	unregister, err := asynchttpotel.ObserveStats(c)
	require.NoError(t, err)
	require.NoError(t, unregister())
	assert.Equal(t, []string{asynchttpotel.ScopeName, asynchttpotel.ScopeName}, p.names)
}

func TestRefusedInstrumentsAreErrors(t *testing.T) {
	p := &countingProvider{fail: true}
	var cfg asynchttp.Config
	require.ErrorIs(t, asynchttpotel.Instrument(&cfg, asynchttpotel.WithMeterProvider(p)), errRefused)
	assert.Nil(t, cfg.Events.RequestDone, "a refused Instrument leaves the Config as it was")
	c := asynchttp.New(cfg)
	defer c.Close()
	_, err := asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(p))
	require.ErrorIs(t, err, errRefused)
}

func TestObserveStatsAfterCloseReportsNoConnections(t *testing.T) {
	tg := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mp := newMeterProvider(t)
	c := asynchttp.New(asynchttp.Config{})
	unregister, err := asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(mp))
	require.NoError(t, err)
	defer unregister()
	_, err = do(context.Background(), c, "GET", tg.url+"/")
	require.NoError(t, err)
	require.NoError(t, c.Close())

	st := c.Stats()
	got := mp.collect(t)
	require.Zero(t, st.Open)
	conn := append(serverAttrs(tg), attribute.String("network.protocol.version", "1.1"))
	for _, state := range []string{"active", "idle"} {
		v, _ := got.sum(t, openConnsName, append(conn[:len(conn):len(conn)], attribute.String("http.connection.state", state))...)
		assert.Zero(t, v, state)
	}
}
