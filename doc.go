// Package asynchttp is a pooled HTTP/1.1 client.
//
// One Client owns a pool of keep-alive connections keyed by host (scheme,
// host and port). It enforces a total connection cap (MaxTotalConns, a
// semaphore over dialing, busy and idle connections) and per-host caps
// (MaxConnsPerHost on acquire, MaxIdleConnsPerHost when a connection is
// offered back). A caller that finds a cap reached waits in FIFO order, up
// to AcquireTimeout or its context, or fails at once with ErrTooManyConns
// when AcquireTimeout is negative. When the total cap is full and another
// host holds an idle connection, that idle connection is closed to make
// room: idle connections never starve a busy host.
//
// A connection returns to the pool only when its response body has been
// read to its end; Connection: close, an HTTP/1.0 peer without keep-alive,
// a close-delimited body, a body abandoned early (beyond MaxDrainBytes) and
// any protocol doubt close it instead. Idle connections are retired by
// IdleTimeout and MaxConnLifetime (one reaper goroutine per Client, and a
// re-check on acquire), and checked for a server-side close, without a
// goroutine per connection, before they are reused.
//
// There are two ways in:
//
//   - Client.Do(ctx, req, resp) with pooled *Request and *Response (see
//     AcquireRequest and AcquireResponse): the body is buffered in resp and
//     the connection is back in the pool before Do returns.
//   - Client.RoundTrip, which makes a Client an http.RoundTripper:
//     &http.Client{Transport: c}. Bodies stream; the connection returns at
//     io.EOF or Close.
//
// A minimal use:
//
//	c := asynchttp.New(asynchttp.Config{MaxTotalConns: 256, MaxConnsPerHost: 8})
//	defer c.Close()
//	req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
//	defer asynchttp.ReleaseRequest(req)
//	defer asynchttp.ReleaseResponse(resp)
//	req.SetRequestURI("http://127.0.0.1:8080/")
//	if err := c.Do(ctx, req, resp); err != nil { ... }
//	fmt.Println(resp.StatusCode, len(resp.Body()))
//
// Errors are sentinel values and types that work with errors.Is and
// errors.As: ErrTooManyConns, ErrTooManyPending, ErrClientClosed,
// ErrServerClosedConn, ErrInvalidRequest (*RequestError),
// ErrMalformedResponse (*ProtocolError), ErrHeaderTooLarge and
// ErrBodyTooLarge (*LimitError), and *TimeoutError, which satisfies
// net.Error with Timeout() == true and wraps context.DeadlineExceeded when
// the caller's context expired.
//
// Client.Stats reports, in total and per host, the connections open, idle,
// in use, dialing, the callers waiting, and the connections created, reused
// and closed (with the reasons they were closed).
//
// # Layers
//
// Inside, data flows down and nothing below calls back up:
//
//   - The ways in: Do (do.go), Execute and ExecuteHandler (future.go,
//     handler.go), RoundTrip (transport.go, transport_compat.go). Each
//     attempt takes its connection through Client.connFor (policy.go).
//   - The host-policy seam (policy.go): connFor asks Client.policy, an
//     unexported hostPolicy, to admit each attempt before it holds a
//     connection. It is nil unless a policy is configured, and then costs
//     one nil check; per-host rate, delay, adaptive limits, retries and a
//     breaker plug in there.
//   - The exchange: send.go writes a request and reads the response head
//     (inline, concurrently with the body, or after 100 Continue); do.go
//     ends it (finish, abort) and body.go reads the body. The wire format
//     is request.go, request_write.go, url.go, response.go, header.go.
//   - The pool: pool.go adapts the key-agnostic core in internal/pool
//     (slots, FIFO waiters across keys, idle lists, the reaper, eviction,
//     counters) to host keys, httptrace and Events. The waiting policy,
//     caps and expiry are changed in internal/pool; conn.go is one pooled
//     connection and its liveness peek (liveness_*.go).
//   - Dialing, beneath the pool: dial.go (TCP, TLS, the dial target of
//     each key), resolve.go (multi-address hosts), proxy.go (HTTP and
//     SOCKS proxies). The pool core calls it through pool.Config.Dial.
package asynchttp
