// Package asynchttpotel reports an asynchttp.Client's requests and
// connection pool as OpenTelemetry metrics, in the names, units, instrument
// kinds and attributes of the OpenTelemetry semantic conventions for HTTP
// clients (semantic conventions v1.43.0 as published in
// go.opentelemetry.io/otel/semconv/v1.43.0; unchanged through v1.44.0).
//
// Two calls, one on each side of asynchttp.New:
//
//	cfg := asynchttp.Config{}
//	if err := asynchttpotel.Instrument(&cfg); err != nil { ... } // per-request and per-connection metrics
//	c := asynchttp.New(cfg)
//	unregister, err := asynchttpotel.ObserveStats(c)             // pool gauges, read at collection time
//	defer unregister()
//
// Instrument chains callbacks onto cfg.Events (any callbacks already there
// are still called, after the recording), so it records:
//
//	http.client.request.duration       Float64Histogram      s
//	http.client.active_requests        Int64UpDownCounter    {request}
//	http.client.request.time_in_queue  Float64Histogram      s
//	http.client.connection.duration    Float64Histogram      s
//	asynchttp.client.connection.closed Int64Counter          {connection}
//
// ObserveStats registers one callback that reads Client.Stats once per
// collection and reports:
//
//	http.client.open_connections         Int64ObservableUpDownCounter {connection}
//	asynchttp.client.connection.dialing  Int64ObservableUpDownCounter {connection}
//	asynchttp.client.request.waiting     Int64ObservableUpDownCounter {request}
//	asynchttp.client.connection.limit    Int64ObservableGauge         {connection} (hosts with a cap)
//	asynchttp.client.policy.waits        Int64ObservableCounter       {request}    (hosts whose Rate or Delay held a request)
//	asynchttp.client.policy.wait_time    Float64ObservableCounter     s
//	asynchttp.client.dial.waits          Int64ObservableCounter       {connection} (no attributes: the Client's cap)
//	asynchttp.client.dial.wait_time      Float64ObservableCounter     s
//	asynchttp.client.handshake.waits     Int64ObservableCounter       {handshake}  (no attributes: the Client's cap)
//	asynchttp.client.handshake.wait_time Float64ObservableCounter     s
//
// The README lists every attribute and the error.type values. The meter
// comes from the global MeterProvider (otel.GetMeterProvider) unless
// WithMeterProvider names another; its name is this module's path.
package asynchttpotel
