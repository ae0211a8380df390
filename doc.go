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
package asynchttp
