// Instrument: per-request and per-connection instruments fed by
// asynchttp.Config.Events.

package asynchttpotel

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/asynchttp/asynchttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"
)

// RequestDurationBuckets are the explicit bucket boundaries, in seconds,
// the conventions recommend for http.client.request.duration; they are
// also the ones the .NET conventions give http.client.request.time_in_queue.
var RequestDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// ConnectionDurationBuckets are the explicit bucket boundaries, in
// seconds, the conventions recommend for http.client.connection.duration.
var ConnectionDurationBuckets = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}

// Names of the instruments that are not in the generic HTTP conventions.
const (
	// TimeInQueueName follows the .NET HTTP client conventions
	// (docs/dotnet/dotnet-http-metrics.md), the only ones that define
	// a time waiting for a connection.
	TimeInQueueName = "http.client.request.time_in_queue"
	// ConnectionClosedName counts closed connections by CloseReasonKey.
	ConnectionClosedName = "asynchttp.client.connection.closed"
)

type instruments struct {
	cfg       *config
	sets      setCache
	duration  metric.Float64Histogram
	active    metric.Int64UpDownCounter
	queue     metric.Float64Histogram
	connDur   metric.Float64Histogram
	connClose metric.Int64Counter
}

// Instrument makes cfg report its client's requests and connections to
// OpenTelemetry: call it before asynchttp.New(*cfg). It sets
// cfg.Events.RequestStart, RequestDone and ConnClosed to
// functions that record, then call the callbacks that were there before
// (the caller's, still called with the same arguments). Call it once per
// Config: a second call records everything twice.
//
// It records http.client.request.duration, http.client.active_requests,
// http.client.request.time_in_queue (for requests that had to wait for a
// connection), http.client.connection.duration and
// asynchttp.client.connection.closed; the README lists their attributes.
// A nil cfg, a nil Option or an instrument the MeterProvider refuses is an
// error, and cfg is then left as it was.
//
// With the request callbacks set, each request costs what
// asynchttp.Events documents, plus the recording.
func Instrument(cfg *asynchttp.Config, opts ...Option) error {
	if cfg == nil {
		return errors.New("asynchttpotel: Instrument: nil Config")
	}
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	in, err := newInstruments(c)
	if err != nil {
		return err
	}
	ev := &cfg.Events

	prevStart := ev.RequestStart
	ev.RequestStart = func(ri asynchttp.RequestInfo) {
		in.requestStart(ri)
		if prevStart != nil {
			prevStart(ri)
		}
	}
	prevDone := ev.RequestDone
	ev.RequestDone = func(ri asynchttp.RequestInfo) {
		in.requestDone(ri)
		if prevDone != nil {
			prevDone(ri)
		}
	}
	prevClosed := ev.ConnClosed
	ev.ConnClosed = func(ci asynchttp.ConnInfo, why asynchttp.CloseReason) {
		in.connClosed(ci, why)
		if prevClosed != nil {
			prevClosed(ci, why)
		}
	}
	return nil
}

func newInstruments(c *config) (*instruments, error) {
	m := c.meter()
	in := &instruments{cfg: c}
	var errs []error
	dur, err := httpconv.NewClientRequestDuration(m, metric.WithExplicitBucketBoundaries(RequestDurationBuckets...))
	errs = append(errs, err)
	in.duration = dur.Inst()
	act, err := httpconv.NewClientActiveRequests(m)
	errs = append(errs, err)
	in.active = act.Inst()
	in.queue, err = m.Float64Histogram(TimeInQueueName,
		metric.WithDescription("The amount of time requests spent on a queue waiting for an available connection."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(RequestDurationBuckets...))
	errs = append(errs, err)
	cd, err := httpconv.NewClientConnectionDuration(m, metric.WithExplicitBucketBoundaries(ConnectionDurationBuckets...))
	errs = append(errs, err)
	in.connDur = cd.Inst()
	in.connClose, err = m.Int64Counter(ConnectionClosedName,
		metric.WithDescription("Connections the pool closed, by reason."),
		metric.WithUnit("{connection}"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return in, nil
}

// methodValue is the value of http.request.method for m.
func (c *config) methodValue(m string) string {
	if c.knownMethods[m] {
		return m
	}
	return semconv.HTTPRequestMethodOther.Value.AsString()
}

// requestSet is the attribute set of kind for a request: http.request.method,
// server.address, server.port and url.scheme; for queueSet and
// durationSet network.protocol.version too; for durationSet the status
// code (when there is one) and error.type (when the request failed).
func (in *instruments) requestSet(kind uint8, ri *asynchttp.RequestInfo, errType string) attribute.Set {
	k := setKey{kind: kind, method: in.cfg.methodValue(ri.Method), host: ri.Host}
	if kind == durationSet {
		k.status, k.errType = ri.StatusCode, errType
	}
	return in.sets.get(k, func() attribute.Set {
		var buf [8]attribute.KeyValue
		kv := append(buf[:0], semconv.HTTPRequestMethodKey.String(k.method))
		kv = hostServer(k.host).attrs(kv)
		if kind != activeSet {
			kv = append(kv, semconv.NetworkProtocolVersion(protocolVersion))
		}
		if k.status > 0 {
			kv = append(kv, semconv.HTTPResponseStatusCode(k.status))
		}
		if k.errType != "" {
			kv = append(kv, semconv.ErrorTypeKey.String(k.errType))
		}
		return attribute.NewSet(kv...)
	})
}

func (in *instruments) requestStart(ri asynchttp.RequestInfo) {
	in.active.Add(context.Background(), 1, metric.WithAttributeSet(in.requestSet(activeSet, &ri, "")))
}

func (in *instruments) requestDone(ri asynchttp.RequestInfo) {
	ctx := context.Background()
	in.active.Add(ctx, -1, metric.WithAttributeSet(in.requestSet(activeSet, &ri, "")))
	if ri.Wait > 0 {
		// As in .NET, only the requests that had to queue are recorded.
		in.queue.Record(ctx, ri.Wait.Seconds(), metric.WithAttributeSet(in.requestSet(queueSet, &ri, "")))
	}
	set := in.requestSet(durationSet, &ri, errorType(ri.StatusCode, ri.Err))
	in.duration.Record(ctx, ri.Duration.Seconds(), metric.WithAttributeSet(set))
}

func (in *instruments) connClosed(ci asynchttp.ConnInfo, why asynchttp.CloseReason) {
	ctx := context.Background()
	var buf [6]attribute.KeyValue
	kv := hostServer(ci.Host).attrs(buf[:0])
	in.connClose.Add(ctx, 1, metric.WithAttributes(append(kv, CloseReasonKey.String(why.String()))...))
	// An upgraded connection leaves the pool with its socket open: how
	// long the pool held it is not how long it lived.
	if why == asynchttp.CloseUpgraded || ci.CreatedAt.IsZero() {
		return
	}
	kv = append(kv, semconv.NetworkProtocolVersion(protocolVersion))
	if in.cfg.peerAddress {
		if a := peerAddress(ci.RemoteAddr); a != "" {
			kv = append(kv, semconv.NetworkPeerAddress(a))
		}
	}
	in.connDur.Record(ctx, time.Since(ci.CreatedAt).Seconds(), metric.WithAttributes(kv...))
}

// peerAddress is the IP (or the host part) of a remote address.
func peerAddress(a net.Addr) string {
	switch a := a.(type) {
	case nil:
		return ""
	case *net.TCPAddr:
		if a == nil {
			return ""
		}
		return a.IP.String()
	}
	s := a.String()
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}
