// ObserveStats: asynchronous instruments read from Client.Stats at
// collection time.

package asynchttpotel

import (
	"context"
	"errors"
	"sync"

	"github.com/asynchttp/asynchttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"
)

// Names of the pool gauges that are not in the conventions.
const (
	// ConnectionDialingName: connections being dialed (TCP connect and TLS
	// handshake), not yet counted in http.client.open_connections.
	ConnectionDialingName = "asynchttp.client.connection.dialing"
	// RequestWaitingName: callers waiting for a connection because a cap
	// was reached.
	RequestWaitingName = "asynchttp.client.request.waiting"
	// ConnectionLimitName: the host's cap on open connections now (its
	// adaptive limit, HostPolicy.MaxConns or MaxConnsPerHost); reported
	// only for hosts that have one.
	ConnectionLimitName = "asynchttp.client.connection.limit"
	// PolicyWaitsName and PolicyWaitTimeName: requests that waited for
	// their host's Rate or Delay, and their total wait. A host's counts
	// start again from zero when it comes back after two quiet minutes.
	PolicyWaitsName    = "asynchttp.client.policy.waits"
	PolicyWaitTimeName = "asynchttp.client.policy.wait_time"
	// DialWaitsName and DialWaitTimeName: new connections that waited
	// for a slot under Config.MaxConcurrentDials, and their total wait;
	// HandshakeWaitsName and HandshakeWaitTimeName: the same under
	// Config.MaxConcurrentHandshakes. Both caps are the Client's, so these
	// have no attributes.
	DialWaitsName         = "asynchttp.client.dial.waits"
	DialWaitTimeName      = "asynchttp.client.dial.wait_time"
	HandshakeWaitsName    = "asynchttp.client.handshake.waits"
	HandshakeWaitTimeName = "asynchttp.client.handshake.wait_time"
)

// ObserveStats registers asynchronous instruments that read c.Stats() once
// per collection, so that nothing is done per request:
// http.client.open_connections (http.connection.state "active": carrying a
// request or its response; "idle": kept for reuse),
// asynchttp.client.connection.dialing,
// asynchttp.client.request.waiting, asynchttp.client.connection.limit and
// the host policy's waits, each per host (server.address, server.port,
// url.scheme, and network.protocol.version "1.1"); and, for the Client as
// a whole, the waits for a dial or handshake slot
// (asynchttp.client.dial.waits and .wait_time,
// asynchttp.client.handshake.waits and .wait_time). Hosts reached
// directly and through a proxy are summed under their server's
// attributes.
//
// unregister stops the observation; it may be called more than once. A
// nil c, a nil Option or an instrument the MeterProvider refuses is an
// error. ObserveStats needs no Instrument call and may be used alone.
func ObserveStats(c *asynchttp.Client, opts ...Option) (unregister func() error, err error) {
	if c == nil {
		return nil, errors.New("asynchttpotel: ObserveStats: nil Client")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	m := cfg.meter()
	openI, err1 := httpconv.NewClientOpenConnectionsObservable(m)
	open := openI.Inst()
	dialing, err2 := m.Int64ObservableUpDownCounter(ConnectionDialingName,
		metric.WithDescription("Number of outbound HTTP connections being dialed (TCP connect and TLS handshake)."),
		metric.WithUnit("{connection}"))
	waiting, err3 := m.Int64ObservableUpDownCounter(RequestWaitingName,
		metric.WithDescription("Number of HTTP requests waiting for a connection because a connection cap was reached."),
		metric.WithUnit("{request}"))
	limit, err4 := m.Int64ObservableGauge(ConnectionLimitName,
		metric.WithDescription("The host's cap on open HTTP connections now (adaptive limit, host policy or per-host cap)."),
		metric.WithUnit("{connection}"))
	pwaits, err5 := m.Int64ObservableCounter(PolicyWaitsName,
		metric.WithDescription("Number of HTTP requests that waited for their host's rate or delay policy."),
		metric.WithUnit("{request}"))
	pwait, err6 := m.Float64ObservableCounter(PolicyWaitTimeName,
		metric.WithDescription("Total time HTTP requests waited for their host's rate or delay policy."),
		metric.WithUnit("s"))
	dwaits, err7 := m.Int64ObservableCounter(DialWaitsName,
		metric.WithDescription("Number of new HTTP connections that waited for a slot under the client's cap on dials in flight."),
		metric.WithUnit("{connection}"))
	dwait, err8 := m.Float64ObservableCounter(DialWaitTimeName,
		metric.WithDescription("Total time new HTTP connections waited for a slot under the client's cap on dials in flight."),
		metric.WithUnit("s"))
	hwaits, err9 := m.Int64ObservableCounter(HandshakeWaitsName,
		metric.WithDescription("Number of TLS handshakes that waited for a slot under the client's cap on handshakes in flight."),
		metric.WithUnit("{handshake}"))
	hwait, err10 := m.Float64ObservableCounter(HandshakeWaitTimeName,
		metric.WithDescription("Total time TLS handshakes waited for a slot under the client's cap on handshakes in flight."),
		metric.WithUnit("s"))
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10); err != nil {
		return nil, err
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := c.Stats()
		o.ObserveInt64(dwaits, int64(st.DialWaits))
		o.ObserveFloat64(dwait, st.DialWaitTime.Seconds())
		o.ObserveInt64(hwaits, int64(st.HandshakeWaits))
		o.ObserveFloat64(hwait, st.HandshakeWaitTime.Seconds())
		for s, n := range poolCounts(st) {
			var buf [5]attribute.KeyValue
			kv := append(s.attrs(buf[:0]), semconv.NetworkProtocolVersion(protocolVersion))
			o.ObserveInt64(open, n.active, metric.WithAttributes(append(kv, semconv.HTTPConnectionStateActive)...))
			o.ObserveInt64(open, n.idle, metric.WithAttributes(append(kv, semconv.HTTPConnectionStateIdle)...))
			o.ObserveInt64(dialing, n.dialing, metric.WithAttributes(kv...))
			o.ObserveInt64(waiting, n.waiting, metric.WithAttributes(kv...))
			if n.limit > 0 {
				o.ObserveInt64(limit, n.limit, metric.WithAttributes(kv...))
			}
			if n.policyWaits > 0 {
				o.ObserveInt64(pwaits, n.policyWaits, metric.WithAttributes(kv...))
				o.ObserveFloat64(pwait, n.policyWait, metric.WithAttributes(kv...))
			}
		}
		return nil
	}, open, dialing, waiting, limit, pwaits, pwait, dwaits, dwait, hwaits, hwait)
	if err != nil {
		return nil, err
	}
	// Not every MeterProvider's Registration tolerates a second call.
	var once sync.Once
	return func() error {
		err := error(nil)
		once.Do(func() { err = reg.Unregister() })
		return err
	}, nil
}

type counts struct {
	active, idle, dialing, waiting, limit, policyWaits int64
	policyWait                                         float64 // seconds
}

// poolCounts sums st's hosts by server: pool keys that differ only in the
// proxy they go through share their attributes, and one collection must
// not observe the same attributes twice.
func poolCounts(st asynchttp.Stats) map[server]counts {
	m := make(map[server]counts, len(st.Hosts))
	for key, h := range st.Hosts {
		s := hostServer(key)
		n := m[s]
		n.active += int64(h.InUse)
		n.idle += int64(h.Idle)
		n.dialing += int64(h.Dialing)
		n.waiting += int64(h.Waiting)
		n.limit = max(n.limit, int64(h.ConnLimit)) // through proxies too, one host's cap
		n.policyWaits += int64(h.PolicyWaits)
		n.policyWait += h.PolicyWaitTime.Seconds()
		m[s] = n
	}
	return m
}
