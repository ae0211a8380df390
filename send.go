// Sending a request and reading its response head: the body inline, or
// concurrently with the read (so an early response is seen), or after
// "100 Continue".

package asynchttp

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"net/textproto"
	"runtime/debug"
	"sync"
	"time"
)

// sendMode says how a request's body goes out.
type sendMode uint8

const (
	// sendInline writes head and body before the response is read: no
	// body, or a small buffered one.
	sendInline sendMode = iota
	// sendConcurrent writes the body from a goroutine while the response
	// head is read, so that a server answering early (413 and close) is
	// heard, and a server that stops reading cannot wedge the caller.
	sendConcurrent
	// sendOnContinue is Expect: 100-continue: the body goes after the
	// server's 100 Continue, or after ExpectContinueTimeout without word,
	// and not at all when a final response comes first.
	sendOnContinue
)

// inlineBodyMax is the largest buffered body written inline.
const inlineBodyMax = 64 << 10

func (r *Request) sendMode() sendMode {
	switch {
	case r.bodyStream == nil && len(r.body) == 0:
		return sendInline
	case r.Header.hasToken("Expect", "100-continue"):
		return sendOnContinue
	case r.bodyStream != nil || len(r.body) > inlineBodyMax:
		return sendConcurrent
	}
	return sendInline
}

// sendAndReadHead writes req on cn and reads the final response head into
// resp. On error cn has been closed.
func (c *Client) sendAndReadHead(ctx context.Context, cn *conn, req *Request, resp *Response) (exchange, error) {
	ex := exchange{cn: cn, retire: c.pool.lastRequest(cn)}
	var sender *bodySender // sending the request body, once started
	returned := false
	defer func() {
		if returned {
			return
		}
		// An httptrace hook panicked (or called runtime.Goexit)
		// mid-exchange, which goes on unwinding after this: the conn is
		// in an unknown state. A body sender still at work stops once the
		// conn is closed, and is waited for: the caller may release req as
		// soon as the panic reaches it.
		if ex.stop != nil {
			ex.stop()
		}
		c.pool.discardConn(cn)
		sender.finish()
	}()
	err := c.exchangeHead(ctx, cn, req, resp, &ex, &sender)
	returned = true
	return ex, err
}

// exchangeHead is sendAndReadHead's work; ex and *sp are where the guard
// there finds them.
func (c *Client) exchangeHead(ctx context.Context, cn *conn, req *Request, resp *Response, ex *exchange, sp **bodySender) error {
	dl, hasDL := ctx.Deadline()
	cn.setDeadline(ctx, dl) // the zero time clears a previous caller's deadline
	if ctx.Done() != nil {
		if ctx.Err() != nil {
			c.pool.closeConn(cn, CloseCanceled)
			return ctxErr(ctx, "write request")
		}
		ex.stop = context.AfterFunc(ctx, cn.watchFunc())
	}
	closeReq := req.ConnectionClose() || ex.retire != numCloseReasons
	if t := cn.tgt; t.proxy != nil && !t.tls && (t.proxy.Scheme == "http" || t.proxy.Scheme == "https") {
		req.viaProxy, req.proxyAuth = true, t.proxyAuth
	}
	mode := req.sendMode()
	err := req.writeHead(cn.bw, closeReq)
	if err == nil && mode == sendInline {
		err = req.writeBody(cn.bw)
	}
	if err == nil {
		err = cn.bw.Flush()
	}
	if err == nil && mode == sendInline {
		cn.putWriter() // the request is out: no buffer is held while the answer comes
	}
	trace := httptrace.ContextClientTrace(ctx)
	ex.trace = trace
	if trace != nil {
		traceWrote(trace, mode == sendInline, err)
	}
	if err != nil {
		c.abort(ctx, *ex)
		return writeErr(ctx, err)
	}

	rht := c.pool.lim.headerTimeout
	bodySent, gotByte := true, false
	switch mode {
	case sendInline:
		if rht > 0 {
			cn.setReadDeadline(ctx, headerDeadline(rht, dl, hasDL))
		}
	case sendConcurrent:
		*sp = startBodySender(ctx, cn, req, rht, dl, hasDL, trace)
	case sendOnContinue:
		ex.framing, gotByte, err = c.readHeadOnContinue(ctx, cn, req, resp, trace, sp)
		bodySent = *sp != nil
	}
	if mode != sendOnContinue {
		_, err = cn.br.Peek(1)
		gotByte = err == nil
		if gotByte {
			var on1xx func(int, *Header) error
			if trace != nil {
				if trace.GotFirstResponseByte != nil {
					trace.GotFirstResponseByte()
				}
				on1xx = trace1xx(trace)
			}
			ex.framing, err = readResponseHead(&cn.br.Reader, resp, c.pool.lim.maxHeader, req.isHead(), on1xx)
		}
	}
	if err != nil {
		sendErr := (*sp).finish()
		c.abort(ctx, *ex)
		switch {
		case ctx.Err() != nil:
			// The caller gave up; whatever the sender saw came after.
		case isBodyReadError(sendErr):
			return writeErr(ctx, sendErr)
		case !gotByte && ctx.Err() == nil && !isTimeout(err):
			return &connClosedError{err: err}
		}
		return headErr(ctx, err, rht > 0)
	}
	if *sp != nil {
		(*sp).headRead()
		cn.invalidateDeadline() // the sender may have moved the read deadline
		if ex.framing.close || resp.StatusCode >= 400 {
			// RFC 9112 §9.5: the server refuses the body, or is closing:
			// stop sending it. The conn cannot carry another request.
			if (*sp).finish() != nil {
				ex.framing.close = true
			}
		} else {
			// A 2xx or 3xx may come while the body is still going out
			// (a full-duplex handler echoing it): keep sending while the
			// caller reads; finish waits for the sender.
			ex.sender = *sp
		}
	}
	if !bodySent {
		// The server answered before the body went out (100-continue):
		// the connection is in an unknown state on the server's side.
		ex.framing.close = true
		if trace != nil && trace.WroteRequest != nil {
			trace.WroteRequest(httptrace.WroteRequestInfo{}) // the request is over, as net/http says
		}
	}
	cn.setDeadline(ctx, dl)
	if ex.sender.bodyFailed() != nil {
		// The body broke while we moved the deadline: interrupt the read
		// again, the exchange cannot complete.
		cn.invalidateDeadline()
		cn.nc.SetReadDeadline(aLongTimeAgo)
	}
	ex.framing.close = ex.framing.close || closeReq
	cn.KeepAlive = 0
	if ka := resp.Header.Peek("Keep-Alive"); ka != nil {
		cn.KeepAlive = keepAliveIdle(ka)
	}
	return nil
}

// keepAliveIdle reads the timeout parameter of a Keep-Alive field
// ("timeout=5, max=100") and returns how long the conn may stay idle: the
// server's timeout less a margin of a twentieth of it, at least 50 ms and
// at most a second (timeout=1: 950 ms; timeout=5: 4.75 s; timeout=60:
// 59 s), so the client retires it just before the server would close
// it, and not much earlier. Zero means no usable timeout.
func keepAliveIdle(v []byte) time.Duration {
	for len(v) > 0 {
		var elem []byte
		elem, v = nextListElem(v)
		if len(elem) < 8 || !equalFoldBytes(elem[:8], "timeout=") {
			continue
		}
		n, ok := int64(0), len(elem) > 8
		for _, b := range elem[8:] {
			if b < '0' || b > '9' || n > 1<<30 {
				ok = false
				break
			}
			n = n*10 + int64(b-'0')
		}
		if !ok || n <= 0 {
			return 0
		}
		d := time.Duration(n) * time.Second
		return d - min(max(d/20, 50*time.Millisecond), time.Second)
	}
	return 0
}

// headerDeadline is when ResponseHeaderTimeout (rht) fires if it starts
// now, or the caller's deadline if that comes first.
func headerDeadline(rht time.Duration, dl time.Time, hasDL bool) time.Time {
	hd := time.Now().Add(rht)
	if hasDL && dl.Before(hd) {
		hd = dl
	}
	return hd
}

// readHeadOnContinue reads the response head of an Expect: 100-continue
// request whose head is sent: the body starts going out (from a
// bodySender, as in sendConcurrent) when 100 Continue arrives, or when
// ExpectContinueTimeout passes without a byte from the server, and not at
// all when a final response comes first. The sender, once started, is in
// *sp (nil when the body never went out), also when this returns an error.
func (c *Client) readHeadOnContinue(ctx context.Context, cn *conn, req *Request, resp *Response, trace *httptrace.ClientTrace, sp **bodySender) (f bodyFraming, gotByte bool, err error) {
	if trace != nil && trace.Wait100Continue != nil {
		trace.Wait100Continue()
	}
	dl, hasDL := ctx.Deadline()
	rht := c.pool.lim.headerTimeout
	start := func() { *sp = startBodySender(ctx, cn, req, rht, dl, hasDL, trace) }
	if ect := c.pool.lim.expectTimeout; ect > 0 {
		cn.setReadDeadline(ctx, headerDeadline(ect, dl, hasDL))
		_, perr := cn.br.Peek(1)
		timedOut := perr != nil && isTimeout(perr) && ctx.Err() == nil && (!hasDL || time.Now().Before(dl))
		if perr != nil && !timedOut {
			return f, false, perr
		}
		// While the body goes out, only the caller's deadline bounds the
		// read; the sender starts ResponseHeaderTimeout when it is done.
		cn.setReadDeadline(ctx, dl)
		if timedOut {
			start() // no word from the server: send the body anyway
		}
	} else {
		cn.setReadDeadline(ctx, dl)
		start()
	}
	if _, err = cn.br.Peek(1); err != nil {
		return f, false, err
	}
	if trace != nil && trace.GotFirstResponseByte != nil {
		trace.GotFirstResponseByte()
	}
	traced := trace1xx(trace)
	f, err = readResponseHead(&cn.br.Reader, resp, c.pool.lim.maxHeader, req.isHead(), func(code int, h *Header) error {
		if traced != nil {
			if err := traced(code, h); err != nil {
				return err
			}
		}
		if code == 100 && *sp == nil {
			start()
		}
		return nil
	})
	return f, true, err
}

// traceWrote reports a written request head (and, when the body went
// inline, the whole request) to trace.
func traceWrote(trace *httptrace.ClientTrace, whole bool, err error) {
	if err == nil && trace.WroteHeaders != nil {
		trace.WroteHeaders()
	}
	if (whole || err != nil) && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
}

// trace1xx returns an on1xx callback reporting interim responses to
// trace.Got1xxResponse, or nil when there is nothing to report to.
func trace1xx(trace *httptrace.ClientTrace) func(int, *Header) error {
	if trace == nil || trace.Got1xxResponse == nil {
		return nil
	}
	return func(code int, h *Header) error {
		mh := make(textproto.MIMEHeader, h.Len())
		h.VisitAll(func(k, v []byte) {
			key := textproto.CanonicalMIMEHeaderKey(string(k))
			mh[key] = append(mh[key], string(v))
		})
		return trace.Got1xxResponse(code, mh)
	}
}

// sendBody writes and flushes req's body.
func sendBody(cn *conn, req *Request) error {
	err := req.writeBody(cn.bw)
	if err == nil {
		err = cn.bw.Flush()
	}
	return err
}

func isBodyReadError(err error) bool {
	var bre bodyReadError
	return err != nil && errors.As(err, &bre)
}

// writeErr maps a failed write: the request body's own reader failing, the
// context ending, or the server having closed the connection.
func writeErr(ctx context.Context, err error) error {
	var bre bodyReadError
	switch {
	case errors.As(err, &bre):
		return fmt.Errorf("asynchttp: reading request body: %w", bre.err)
	case ctx.Err() != nil || isTimeout(err):
		return ioErr(ctx, "write request", err)
	}
	return &connClosedError{err: err}
}

// bodySender writes a request body from its own goroutine while the
// caller reads the response head.
type bodySender struct {
	cn   *conn
	req  *Request
	done chan error

	mu       sync.Mutex
	headDone bool  // the response head is in: the read deadline is not ours
	failed   error // the body stream's own read error, once it happened

	finished bool  // owned by the caller's goroutine
	result   error // what finish returned
}

// bodyFailed returns the body stream's read error, if it failed; a nil
// sender has none.
func (s *bodySender) bodyFailed() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// headRead tells the sender the response head was read: from now on the
// read deadline belongs to the body reader.
func (s *bodySender) headRead() {
	s.mu.Lock()
	s.headDone = true
	s.mu.Unlock()
}

func startBodySender(ctx context.Context, cn *conn, req *Request, rht time.Duration, dl time.Time, hasDL bool, trace *httptrace.ClientTrace) *bodySender {
	s := &bodySender{cn: cn, req: req, done: make(chan error, 1)}
	go func() {
		var err error
		completed := false
		defer func() {
			if !completed {
				// The body's Read or the WroteRequest hook panicked, or
				// called runtime.Goexit: in this goroutine nobody could
				// recover it. The exchange fails with it instead (as with
				// a body that failed to read), and finish is never left
				// waiting.
				var cause error = errHookGoexit
				if v := recover(); v != nil {
					cause = &PanicError{Value: v, Stack: debug.Stack()}
				}
				err = bodyReadError{err: cause}
				s.mu.Lock()
				s.failed = err
				cn.nc.SetReadDeadline(aLongTimeAgo)
				s.mu.Unlock()
			}
			s.done <- err
		}()
		err = sendBody(cn, req)
		if trace != nil && trace.WroteRequest != nil {
			trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
		}
		switch {
		case err == nil && rht > 0:
			// ResponseHeaderTimeout runs from the end of the request.
			s.mu.Lock()
			if !s.headDone {
				cn.nc.SetReadDeadline(headerDeadline(rht, dl, hasDL))
				if ctx.Err() != nil {
					cn.nc.SetReadDeadline(aLongTimeAgo) // the watch fired meanwhile
				}
			}
			s.mu.Unlock()
		case isBodyReadError(err):
			// The request cannot be completed: wake the reader, now and
			// whenever it moves its deadline (see bodyFailed).
			s.mu.Lock()
			s.failed = err
			cn.nc.SetReadDeadline(aLongTimeAgo)
			s.mu.Unlock()
		}
		completed = true
	}()
	return s
}

// finish waits for the sender, stopping it first if it is still at work
// (the response came early, or reading it failed): a past write deadline
// stops a write, and closing the body stream stops a read blocked in it
// (a pipe whose writer stalls). A stream whose Read ignores Close delays
// finish until that Read returns. finish returns nil only if the whole body
// was sent.
func (s *bodySender) finish() error {
	if s == nil {
		return nil
	}
	if s.finished {
		return s.result
	}
	s.finished = true
	select {
	case s.result = <-s.done:
		return s.result
	default:
	}
	s.cn.nc.SetWriteDeadline(aLongTimeAgo)
	s.cn.invalidateDeadline()
	s.req.closeBodyStream()
	s.result = <-s.done
	return s.result
}
