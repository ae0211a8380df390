// runtime.Goexit (what t.FailNow does) in the caller's code: hooks,
// Handlers, Events and the body sender give back the slot or conn and
// never wedge the caller.

package asynchttp_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoexitInHooksGivesBackTheirConn: runtime.Goexit in a hook (what
// t.FailNow does) ends the caller's goroutine without a panic to recover;
// the pool gives back the slot or conn all the same.
func TestGoexitInHooksGivesBackTheirConn(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	var armed atomic.Bool
	exit := func() {
		if armed.CompareAndSwap(true, false) {
			runtime.Goexit()
		}
	}
	var d net.Dialer
	for _, tt := range []struct {
		name  string
		dial  func(ctx context.Context, n, a string) (net.Conn, error)
		trace *httptrace.ClientTrace
	}{
		{name: "Dial", dial: func(ctx context.Context, n, a string) (net.Conn, error) { exit(); return d.DialContext(ctx, n, a) }},
		{name: "GotConn", trace: &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { exit() }}},
		{name: "GotFirstResponseByte", trace: &httptrace.ClientTrace{GotFirstResponseByte: exit}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1, Dial: tt.dial})
			ctx := testCtx(t)
			if tt.trace != nil {
				ctx = httptrace.WithClientTrace(ctx, tt.trace)
			}
			armed.Store(true)
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				get(ctx, c, "GET", srv.URL())
				t.Error("the hook's runtime.Goexit did not end the caller")
			}()
			select {
			case <-ended:
			case <-ctx.Done():
				t.Fatal("the caller did not end")
			}
			st := c.Stats()
			assert.Zero(t, st.InUse, "nothing stranded in use")
			assert.Zero(t, st.Dialing)
			_, _, err := get(ctx, c, "GET", srv.URL())
			require.NoError(t, err, "the next request gets the host's one slot")
		})
	}
}

// goexitHandler calls runtime.Goexit in OnStatus.
type goexitHandler struct{ nopHandler }

func (goexitHandler) OnStatus(*asynchttp.Response) asynchttp.Action {
	runtime.Goexit()
	return asynchttp.Continue
}

// A Handler method that calls runtime.Goexit settles its Future with an
// error and gives back the conn: with MaxConnsPerHost 1 the next request
// gets the host's one slot.
func TestGoexitInHandlerGivesBackConn(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	ctx := testCtx(t)
	req := asynchttp.AcquireRequest()
	defer asynchttp.ReleaseRequest(req)
	req.SetRequestURI(srv.URL())
	f := c.ExecuteHandler(ctx, req, goexitHandler{})
	select {
	case <-f.Done():
	case <-ctx.Done():
		t.Fatal("the Future did not settle")
	}
	_, err := f.Wait()
	require.Error(t, err)
	assert.Zero(t, c.Stats().InUse, "nothing stranded in use")
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _, err = get(short, c, "GET", srv.URL())
	assert.NoError(t, err, "the next request gets the host's one slot")
}

// runtime.Goexit in an Events callback that runs while the pool holds a
// conn for the caller (ConnCreated, ConnAcquired) cannot be recovered like
// a panic; the conn is given back all the same, and the caller ends.
func TestGoexitInEventCallbackGivesBackConn(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	var armed atomic.Bool
	exit := func() {
		if armed.CompareAndSwap(true, false) {
			runtime.Goexit()
		}
	}
	for _, tt := range []struct {
		name string
		ev   asynchttp.Events
	}{
		{"ConnCreated", asynchttp.Events{ConnCreated: func(asynchttp.ConnInfo) { exit() }}},
		{"ConnAcquired", asynchttp.Events{ConnAcquired: func(asynchttp.ConnInfo, bool) { exit() }}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1, Events: tt.ev})
			ctx := testCtx(t)
			armed.Store(true)
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				get(ctx, c, "GET", srv.URL())
			}()
			select {
			case <-ended:
			case <-ctx.Done():
				t.Fatal("the caller did not end")
			}
			st := c.Stats()
			assert.Zero(t, st.InUse, "nothing stranded in use")
			assert.Zero(t, st.Dialing)
			short, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, _, err := get(short, c, "GET", srv.URL())
			assert.NoError(t, err, "the next request gets the host's one slot")
		})
	}
}

// With a streamed body, httptrace's WroteRequest runs in the body sender's
// goroutine. runtime.Goexit there ends that goroutine; Do must still
// return rather than wait for the sender forever.
func TestGoexitInBodySenderDoesNotWedgeDo(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	c := newClient(t, asynchttp.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { runtime.Goexit() },
	})
	done := make(chan error, 1)
	go func() {
		req := asynchttp.AcquireRequest()
		resp := asynchttp.AcquireResponse()
		req.SetMethod("POST")
		req.SetRequestURI(srv.URL())
		req.SetBodyStream(struct{ *strings.Reader }{strings.NewReader("hello")}, 5)
		done <- c.Do(ctx, req, resp)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Do is wedged in bodySender.finish after the sender's goroutine ended in runtime.Goexit")
	}
}
