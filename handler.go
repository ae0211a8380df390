// Streaming handlers: ExecuteHandler passes a response to a Handler part by
// part, without buffering its body.

package asynchttp

import (
	"context"
	"errors"
	"io"
	"runtime/debug"
	"sync"
)

// Action is what a Handler callback tells the client to do next.
type Action int

const (
	// Continue goes on with the response.
	Continue Action = iota
	// Abort stops reading the response: the exchange ends with ErrAborted.
	// The connection is drained and reused when at most MaxDrainBytes of
	// the body remain (arriving within DrainTimeout), and closed otherwise.
	Abort
)

// ErrAborted is the error of an exchange a Handler aborted.
var ErrAborted = errors.New("asynchttp: aborted by handler")

// Handler receives a response as it arrives, in the spirit of
// AsyncHttpClient's AsyncHandler. Its methods are called from one goroutine
// at a time, in this order: OnStatus, OnHeaders, OnBodyPart (zero or more
// times), then exactly one of OnComplete or OnError — unless a callback
// returned Abort, after which nothing more is called.
//
// A panic in any method is recovered: the connection is closed and the
// Future fails with a *PanicError (OnError is not called for it).
type Handler interface {
	// OnStatus sees the status line: resp.StatusCode, ProtoMajor,
	// ProtoMinor and Reason.
	OnStatus(resp *Response) Action
	// OnHeaders sees resp.Header (and resp.ContentLength).
	OnHeaders(resp *Response) Action
	// OnBodyPart sees the next part of the body. part is only valid during
	// the call: copy what you keep.
	OnBodyPart(part []byte) Action
	// OnComplete is called once the body was read to its end; resp.Trailer
	// holds the trailers. resp.Body() is empty: nothing was buffered.
	OnComplete(resp *Response)
	// OnError is called when the exchange fails: no connection, a network
	// or protocol error, a limit, or the context or the Future canceled.
	OnError(err error)
}

// ExecuteHandler starts req like Execute, but streams the response to h
// instead of buffering it. Streamed bodies are bounded by
// MaxResponseBodyBytes only when it is positive. The Future's Response
// holds the status, header and trailers (no body) and is the caller's, as
// with Execute; on error, or after Abort, Wait returns it (with ErrAborted
// or the error) when a response head was read, else nil.
func (c *Client) ExecuteHandler(ctx context.Context, req *Request, h Handler) *Future {
	f, cctx := newFuture(ctx)
	go func() {
		resp := AcquireResponse()
		done := false
		defer settleOnPanic(f, resp, &done)
		headRead, err := c.doHandler(cctx, req, resp, h)
		done = true
		if !headRead {
			ReleaseResponse(resp)
			resp = nil
		}
		f.settle(resp, err)
	}()
	return f
}

var partPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// doHandler runs one exchange for a Handler. It reports whether a response
// head was read into resp.
func (c *Client) doHandler(ctx context.Context, req *Request, resp *Response, h Handler) (headRead bool, err error) {
	defer closeUnsent(req)
	if err := c.begin(req, nil); err != nil {
		return false, c.report(h, err)
	}
	obs := c.observe(req) // nil unless Events has request callbacks
	if obs != nil {
		defer func() {
			status, failed := 0, err
			if headRead {
				status = resp.StatusCode
			}
			if failed == ErrAborted {
				failed = nil // the handler's choice, not a failure
			}
			obs.end(status, failed)
		}()
	}
	var adm admission
	defer adm.end()
	// The attempt's turn; a panic in a hook mid-attempt still ends it.
	var turn hostTurn
	defer turn.skip()
	var ex exchange
	var a attempts
	for {
		a.begin(&turn)
		cn, err := c.connFor(ctx, req, a.fresh, &adm, &turn)
		if err != nil {
			return false, c.report(h, err)
		}
		obs.attempt(cn)
		ex, err = c.sendAndReadHead(ctx, cn, req, resp)
		if err == nil {
			again, err := c.retryAfterHead(ctx, &a, req, resp, ex, &turn)
			if !again {
				break
			}
			if err != nil {
				return false, c.report(h, err)
			}
			continue
		}
		if c.retryAfterError(&a, cn, req, err, &turn) {
			continue
		}
		return false, c.report(h, err)
	}

	// From here on the exchange is ours to end: released, drained or closed.
	ended := false
	defer func() {
		// Every return ends the exchange first: a way out with it not
		// ended is a panic or runtime.Goexit in a Handler method.
		v := recover()
		if !ended {
			c.finish(ctx, ex, false)
		}
		if v != nil {
			headRead, err = true, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	ex.cn.br.startBody(ex.framing, c.pool.lim.maxStreamBody, &resp.Trailer)
	if h.OnStatus(resp) == Abort || h.OnHeaders(resp) == Abort {
		ended = true
		c.abandon(ctx, ex)
		return true, ErrAborted
	}
	if ex.framing.mode != framingNone {
		bp := partPool.Get().(*[]byte)
		defer partPool.Put(bp)
		for {
			n, rerr := ex.cn.br.body.Read(*bp)
			if n > 0 && h.OnBodyPart((*bp)[:n]) == Abort {
				ended = true
				if rerr == io.EOF {
					c.finish(ctx, ex, true)
				} else {
					c.abandon(ctx, ex)
				}
				return true, ErrAborted
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				ended = true
				c.finish(ctx, ex, false)
				return true, c.report(h, bodyErr(ctx, ex, rerr))
			}
		}
	}
	ended = true
	c.finish(ctx, ex, true)
	h.OnComplete(resp)
	return true, nil
}

// abandon ends an exchange whose rest is not wanted: drained when short,
// else closed.
func (c *Client) abandon(ctx context.Context, ex exchange) {
	if ex.framing.mode == framingNone {
		c.finish(ctx, ex, true)
		return
	}
	c.finish(ctx, ex, drain(ctx, ex))
}

// report passes err to h.OnError and returns it; a panic in OnError
// becomes the error instead.
func (c *Client) report(h Handler, err error) (out error) {
	defer func() {
		if v := recover(); v != nil {
			out = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	h.OnError(err)
	return err
}
