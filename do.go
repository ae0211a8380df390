// Do, and the exchange of one request and response head on a pooled conn,
// shared with RoundTrip.

package asynchttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"time"
)

// Do sends req and reads the whole response into resp, whose body is
// buffered (bounded by MaxResponseBodyBytes). The connection is back in the
// pool, or closed, before Do returns. Do blocks no longer than ctx allows:
// waiting for a slot, dialing, writing and reading all stop when ctx ends.
//
// req and resp stay owned by the caller, who may reuse or release them as
// soon as Do returns. A request that failed on a reused connection before
// any response byte arrived is retried once on a new connection when it is
// idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or it carries an
// Idempotency-Key field) and its body can be replayed; nothing else is
// retried.
func (c *Client) Do(ctx context.Context, req *Request, resp *Response) (err error) {
	defer closeUnsent(req)
	if err := c.begin(req, nil); err != nil {
		return err
	}
	obs := c.observe(req) // nil unless Events has request callbacks
	defer obs.unwound()
	var adm admission
	defer adm.end()
	// The attempt's turn; a panic in a hook mid-attempt still ends it.
	var turn hostTurn
	defer turn.skip()
	var a attempts
	for {
		a.begin(&turn)
		cn, err := c.connFor(ctx, req, a.fresh, &adm, &turn)
		if err != nil {
			obs.end(0, err)
			return err
		}
		obs.attempt(cn)
		ex, err := c.sendAndReadHead(ctx, cn, req, resp)
		if err != nil {
			if c.retryAfterError(&a, cn, req, err, &turn) {
				continue
			}
			obs.end(0, err)
			return err
		}
		if again, err := c.retryAfterHead(ctx, &a, req, resp, ex, &turn); again {
			if err != nil {
				obs.end(0, err)
				return err
			}
			continue
		}
		cn.br.startBody(ex.framing, c.pool.lim.maxBody, &resp.Trailer)
		resp.body, err = cn.br.body.appendTo(resp.body[:0])
		if err != nil {
			err = bodyErr(ctx, ex, err)
		}
		c.finish(ctx, ex, err == nil)
		obs.end(resp.StatusCode, err)
		return err
	}
}

// closeUnsent closes req's body stream when writeBody never took charge of
// it (the call failed first, or the server declined the body): a stream
// given to the client is always closed.
func closeUnsent(req *Request) {
	if !req.bodyUsed {
		req.closeBodyStream() // also after success: a body never sent (100-continue)
	}
}

// begin validates req before any slot is taken or byte written.
func (c *Client) begin(req *Request, hreq *http.Request) error {
	if err := req.prepare(); err != nil {
		return err
	}
	return c.chooseProxy(req, hreq)
}

// mayRetryStale reports whether a request that failed with err on cn (a
// reused conn the server had closed) may go out again on a new connection;
// it rewinds the body when it does.
func (c *Client) mayRetryStale(cn *conn, req *Request, err error) bool {
	return cn.Reused() && errors.Is(err, ErrServerClosedConn) &&
		req.isIdempotent() && req.canReplay() && req.rewindBody() == nil
}

// exchange is a request whose response head has been read: its body is
// next on cn.
type exchange struct {
	cn      *conn
	framing bodyFraming
	stop    func() bool            // stops the context watch; nil when there is none
	sender  *bodySender            // still sending the request body, or nil
	retire  CloseReason            // why the request said Connection: close to retire cn, or numCloseReasons
	trace   *httptrace.ClientTrace // from the caller's context, or nil
}

// headErr maps an error met while waiting for the response head: our
// ResponseHeaderTimeout firing, unless the caller's deadline came first.
func headErr(ctx context.Context, err error, headerTimeout bool) error {
	if headerTimeout && isTimeout(err) && ctx.Err() == nil {
		if dl, ok := ctx.Deadline(); !ok || time.Now().Before(dl) {
			return &TimeoutError{Op: "response header", Err: err}
		}
	}
	return ioErr(ctx, "read response", err)
}

// abort closes the conn of a failed exchange.
func (c *Client) abort(ctx context.Context, ex exchange) {
	ex.sender.finish()
	if ex.stop != nil {
		ex.stop()
	}
	why := CloseError
	if ctx.Err() != nil {
		why = CloseCanceled
	}
	c.pool.closeConn(ex.cn, why)
}

// finish ends an exchange whose body has been read (ok) or abandoned: the
// conn goes back to the pool only when the body ended cleanly, nothing
// asked for it to close, and the context watch never fired.
func (c *Client) finish(ctx context.Context, ex exchange, ok bool) {
	// The response is complete (or abandoned): a body still being sent is
	// stopped, and its conn is not reused.
	bodyCut := ex.sender.finish() != nil
	interrupted := ex.stop != nil && !ex.stop()
	ex.cn.Requests++
	if f := c.cfg.Events.ConnReleased; f != nil && ok && !interrupted {
		c.pool.eventHolding(ex.cn, func() { f(ex.cn.info()) })
	}
	switch {
	case !ok:
		why := CloseError
		if interrupted || ctx.Err() != nil {
			why = CloseCanceled
		}
		c.pool.closeConn(ex.cn, why)
	case interrupted:
		// The watch may be setting a deadline right now: the conn is not
		// safe to hand to anyone else.
		c.pool.closeConn(ex.cn, CloseCanceled)
	case bodyCut:
		c.pool.closeConn(ex.cn, CloseNotReusable)
	case ex.framing.close || (ex.framing.mode != framingNone && !ex.cn.br.body.done()):
		why := ex.retire // our own Connection: close
		if why == numCloseReasons {
			why = CloseNotReusable
		}
		c.pool.closeConn(ex.cn, why)
	case ex.cn.br.Buffered() > 0:
		// Bytes after the end of the response: nothing was asked for them,
		// and reading them as the next response would desynchronise.
		c.pool.closeConn(ex.cn, CloseError)
	default:
		// The caller's deadline stays on the idle conn: the liveness check
		// bypasses it, and the next exchange sets its own.
		kept := c.pool.release(ex.cn)
		if trace := ex.trace; trace != nil && trace.PutIdleConn != nil {
			var err error
			if !kept {
				err = errNotKept
			}
			trace.PutIdleConn(err)
		}
	}
}

// errNotKept is what httptrace's PutIdleConn hears when a conn is closed
// instead of pooled (the reason is in Stats().ClosedBy and Events).
var errNotKept = errors.New("asynchttp: connection not kept idle")

// bodyErr maps an error met reading a response body: a request body that
// failed first (full duplex) is the real cause.
func bodyErr(ctx context.Context, ex exchange, err error) error {
	if se := ex.sender.bodyFailed(); se != nil {
		return writeErr(ctx, se)
	}
	return ioErr(ctx, "read body", err)
}

// drain reads and drops the rest of ex's body, at most MaxDrainBytes
// within DrainTimeout, and reports whether the body then ended cleanly, so
// that the conn may be reused.
func drain(ctx context.Context, ex exchange) bool {
	cn := ex.cn
	cn.setReadDeadline(ctx, time.Now().Add(DrainTimeout))
	ok := cn.br.body.discard(MaxDrainBytes)
	if ok {
		dl, _ := ctx.Deadline()
		cn.setDeadline(ctx, dl)
	}
	return ok
}

// connClosedError is a write or read that failed before any response
// byte arrived: the server closed or reset the connection.
type connClosedError struct{ err error }

func (e *connClosedError) Error() string {
	return ErrServerClosedConn.Error() + ": " + e.err.Error()
}

func (e *connClosedError) Unwrap() []error { return []error{ErrServerClosedConn, e.err} }

// ioErr maps an I/O error of an exchange: the end of the caller's context
// (or its deadline firing on the socket) becomes a context error; typed
// protocol and limit errors pass as they are.
func ioErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctxErr(ctx, op)
	}
	if isTimeout(err) {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return &TimeoutError{Op: op, Err: context.DeadlineExceeded}
		}
		return &TimeoutError{Op: op, Err: err}
	}
	var pe *ProtocolError
	var le *LimitError
	if errors.As(err, &pe) || errors.As(err, &le) {
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("asynchttp: %s: %w", op, err)
}
