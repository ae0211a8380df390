// Futures: Execute starts a request and returns at once; Wait, Done,
// Cancel and OnComplete follow it.

package asynchttp

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// Future is the pending result of a request started by Execute or
// ExecuteHandler. Its methods are safe for concurrent use. A Future costs
// one goroutine while its request is in flight and none once it is done.
type Future struct {
	done   chan struct{}
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	settled  bool
	resp     *Response
	err      error
	cbs      []func(*Response, error)
	cbPanics []error
}

func newFuture(ctx context.Context) (*Future, context.Context) {
	cctx, cancel := context.WithCancelCause(ctx)
	return &Future{done: make(chan struct{}), cancel: cancel}, cctx
}

// Execute starts sending req and returns at once. The request runs as Do
// would, in its own goroutine, under ctx and the Future's Cancel.
//
// Ownership: req belongs to the Future until it is done (Done is closed):
// the caller must not change, reuse or release it before then. The
// *Response that Wait returns on success is the caller's: it stays valid
// until the caller passes it to ReleaseResponse, which it may do once every
// reader of it (Wait callers, OnComplete callbacks) is finished with it. On
// error Wait returns a nil Response.
func (c *Client) Execute(ctx context.Context, req *Request) *Future {
	f, cctx := newFuture(ctx)
	go func() {
		resp := AcquireResponse()
		done := false
		defer settleOnPanic(f, resp, &done)
		err := c.Do(cctx, req, resp)
		done = true
		if err != nil {
			ReleaseResponse(resp)
			resp = nil
		}
		f.settle(resp, err)
	}()
	return f
}

// settleOnPanic fails f with a *PanicError when the caller's code that an
// exchange runs (Config.Dial, Bootstrap, httptrace hooks) panicked in a
// Future's goroutine: the pool has given back what it held by then, and a
// panic there would end the process.
// done says the exchange returned, and resp is no longer this goroutine's;
// when it did not, and there is no panic, a hook called runtime.Goexit.
func settleOnPanic(f *Future, resp *Response, done *bool) {
	if *done {
		return
	}
	v := recover()
	ReleaseResponse(resp)
	var err error = errHookGoexit
	if v != nil {
		err = &PanicError{Value: v, Stack: debug.Stack()}
	}
	f.settle(nil, err)
}

// errHookGoexit is the error of a Future (or a Prewarm dial) whose
// goroutine a hook ended with runtime.Goexit.
var errHookGoexit = errors.New("asynchttp: a hook called runtime.Goexit")

// settle records the outcome once, wakes every waiter and runs the
// callbacks, outside the lock, in registration order.
func (f *Future) settle(resp *Response, err error) {
	f.mu.Lock()
	if f.settled {
		f.mu.Unlock()
		panic("asynchttp: internal error: future settled twice")
	}
	f.settled, f.resp, f.err = true, resp, err
	cbs := f.cbs
	f.cbs = nil
	f.mu.Unlock()
	f.cancel(nil) // release the context's resources; the exchange is over
	close(f.done)
	for _, cb := range cbs {
		f.run(cb, resp, err)
	}
}

// run calls one OnComplete callback, keeping a panic from spreading.
func (f *Future) run(cb func(*Response, error), resp *Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			pe := &PanicError{Value: v, Stack: debug.Stack()}
			f.mu.Lock()
			f.cbPanics = append(f.cbPanics, pe)
			f.mu.Unlock()
		}
	}()
	cb(resp, err)
}

// Wait blocks until the request is done and returns its outcome. It may
// be called any number of times, from any goroutine.
func (f *Future) Wait() (*Response, error) {
	<-f.done
	return f.resp, f.err
}

// Done returns a channel closed when the request is done, for select.
func (f *Future) Done() <-chan struct{} { return f.done }

// Cancel aborts the request: waiting for a connection, dialing, writing
// or reading stops promptly and Wait returns an error that errors.Is
// context.Canceled. A connection cut mid-exchange is closed, never pooled.
// Cancel after the request is done does nothing.
func (f *Future) Cancel() { f.cancel(nil) }

// OnComplete registers cb to run exactly once with the outcome: in the
// request's goroutine when it completes, or at once in the caller's
// goroutine if it already has. Callbacks run in registration order and
// never under a lock of the client. A panic in cb is recovered and kept
// (see CallbackPanics); it does not affect the client or other callbacks.
func (f *Future) OnComplete(cb func(*Response, error)) {
	f.mu.Lock()
	if !f.settled {
		f.cbs = append(f.cbs, cb)
		f.mu.Unlock()
		return
	}
	resp, err := f.resp, f.err
	f.mu.Unlock()
	f.run(cb, resp, err)
}

// CallbackPanics returns the panics recovered from OnComplete callbacks so
// far, each a *PanicError.
func (f *Future) CallbackPanics() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.cbPanics...)
}

// PanicError is a panic recovered from a user callback: a Handler method,
// an OnComplete callback, or a hook (Config.Dial, Bootstrap, httptrace)
// run in a Future's goroutine.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("asynchttp: panic in callback: %v", e.Value)
}

// Result is the outcome of one Future.
type Result struct {
	Response *Response
	Err      error
}

// WaitAll waits until every future is done and returns their outcomes in
// order ("all settled").
func WaitAll(fs ...*Future) []Result {
	out := make([]Result, len(fs))
	for i, f := range fs {
		out[i].Response, out[i].Err = f.Wait()
	}
	return out
}

// WaitAllOrCancel waits until every future is done. At the first error it
// cancels the futures still running and, once all are done, returns that
// error; it returns nil when every request succeeded. The responses are in
// the futures (Wait).
func WaitAllOrCancel(fs ...*Future) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	wg.Add(len(fs))
	for _, f := range fs {
		f.OnComplete(func(_ *Response, err error) {
			defer wg.Done()
			if err == nil {
				return
			}
			mu.Lock()
			isFirst := first == nil
			if isFirst {
				first = err
			}
			mu.Unlock()
			if isFirst {
				for _, g := range fs {
					g.Cancel()
				}
			}
		})
	}
	wg.Wait()
	return first
}

// Group starts requests through a Client with at most a fixed number in
// flight at once: Execute blocks while the group is full. The zero Group is
// not usable; make one with NewGroup.
type Group struct {
	c   *Client
	sem chan struct{}
	wg  sync.WaitGroup
}

// NewGroup returns a Group of c that lets at most limit requests run at
// once (limit < 1 means 1).
func NewGroup(c *Client, limit int) *Group {
	return &Group{c: c, sem: make(chan struct{}, max(limit, 1))}
}

// Execute waits for a free place in the group (or for ctx to end, which
// fails the returned Future at once), then starts req as Client.Execute.
func (g *Group) Execute(ctx context.Context, req *Request) *Future {
	return g.start(ctx, func() *Future { return g.c.Execute(ctx, req) })
}

// ExecuteHandler is Execute for Client.ExecuteHandler.
func (g *Group) ExecuteHandler(ctx context.Context, req *Request, h Handler) *Future {
	return g.start(ctx, func() *Future { return g.c.ExecuteHandler(ctx, req, h) })
}

func (g *Group) start(ctx context.Context, run func() *Future) *Future {
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		f, _ := newFuture(ctx)
		f.settle(nil, ctxErr(ctx, "wait for group"))
		return f
	}
	g.wg.Add(1)
	f := run()
	f.OnComplete(func(*Response, error) {
		<-g.sem
		g.wg.Done()
	})
	return f
}

// Wait blocks until every request started by the group is done.
func (g *Group) Wait() { g.wg.Wait() }
