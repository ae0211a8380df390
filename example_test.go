// Examples of the public API, run as tests against local servers.

package asynchttp_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/asynchttp/asynchttp"
)

func ExampleClient_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()

	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()

	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)

	req.SetRequestURI(srv.URL + "/greeting")
	if err := c.Do(context.Background(), req, resp); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, string(resp.Body()))
	// Output: 200 hello
}

func ExampleClient_RoundTrip() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "you asked for %s", r.URL.Path)
	}))
	defer srv.Close()

	c := asynchttp.New(asynchttp.Config{MaxConnsPerHost: 4})
	defer c.Close()
	hc := &http.Client{Transport: c} // a drop-in for net/http's Transport

	for range 3 {
		resp, err := hc.Get(srv.URL + "/page")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close() // returns the connection to the pool
		fmt.Println(resp.Status, string(body))
	}
	st := c.Stats()
	fmt.Printf("connections created: %d, reused: %d\n", st.Created, st.Reused)
	// Output:
	// 200 OK you asked for /page
	// 200 OK you asked for /page
	// 200 OK you asked for /page
	// connections created: 1, reused: 2
}

// A crawler-style client: at most 2 connections to any one host, callers
// beyond that wait their turn in arrival order.
func ExampleConfig_perHostCap() {
	var mu sync.Mutex
	open, maxOpen := 0, 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open++
			maxOpen = max(maxOpen, open)
		case http.StateClosed:
			open--
		}
	}
	srv.Start()
	defer srv.Close()

	c := asynchttp.New(asynchttp.Config{MaxConnsPerHost: 2})
	defer c.Close()

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetRequestURI(srv.URL)
			if err := c.Do(context.Background(), req, resp); err != nil {
				fmt.Println(err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	fmt.Println("most connections open at once:", maxOpen)
	fmt.Println("connections the pool created:", c.Stats().Created <= 2)
	// Output:
	// most connections open at once: 2
	// connections the pool created: true
}

// Fan out 100 requests, then wait for all of them.
func ExampleClient_Execute() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	}))
	defer srv.Close()
	c := asynchttp.New(asynchttp.Config{MaxConnsPerHost: 8})
	defer c.Close()

	ctx := context.Background()
	futures := make([]*asynchttp.Future, 100)
	for i := range futures {
		req := asynchttp.AcquireRequest() // owned by the future until it is done
		req.SetRequestURI(fmt.Sprintf("%s/%d", srv.URL, i))
		futures[i] = c.Execute(ctx, req)
		futures[i].OnComplete(func(*asynchttp.Response, error) { asynchttp.ReleaseRequest(req) })
	}
	total := 0
	for _, f := range futures {
		resp, err := f.Wait()
		if err != nil {
			fmt.Println(err)
			return
		}
		total += len(resp.Body())
		asynchttp.ReleaseResponse(resp)
	}
	fmt.Println("bytes received:", total, "connections:", c.Stats().Created <= 8)
	// Output: bytes received: 290 connections: true
}

// Wait for a response, but no longer than a deadline of your own.
func ExampleFuture_Done() {
	slow := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-slow
	}))
	defer srv.Close()
	defer close(slow)
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()

	req := asynchttp.AcquireRequest()
	req.SetRequestURI(srv.URL)
	f := c.Execute(context.Background(), req)
	select {
	case <-f.Done():
		fmt.Println("answered")
	case <-time.After(50 * time.Millisecond):
		f.Cancel()
		_, err := f.Wait()
		fmt.Println("gave up:", errors.Is(err, context.Canceled))
	}
	asynchttp.ReleaseRequest(req) // the future is done: req is ours again
	// Output: gave up: true
}

// sniffer hashes a body as it streams in, and aborts (closing or draining
// the connection) as soon as the headers show it is not what we want.
type sniffer struct {
	h    hash.Hash
	sum  string
	skip bool
}

func (s *sniffer) OnStatus(r *asynchttp.Response) asynchttp.Action { return asynchttp.Continue }
func (s *sniffer) OnHeaders(r *asynchttp.Response) asynchttp.Action {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		s.skip = true
		return asynchttp.Abort
	}
	s.h = sha256.New()
	return asynchttp.Continue
}
func (s *sniffer) OnBodyPart(p []byte) asynchttp.Action { s.h.Write(p); return asynchttp.Continue }
func (s *sniffer) OnComplete(r *asynchttp.Response)     { s.sum = fmt.Sprintf("%x", s.h.Sum(nil))[:12] }
func (s *sniffer) OnError(err error)                    { fmt.Println("error:", err) }

func ExampleClient_ExecuteHandler() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/doc.pdf" {
			w.Header().Set("Content-Type", "application/pdf")
			w.Write(make([]byte, 50<<20)) // never read: the handler aborts
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>hello</html>")
	}))
	defer srv.Close()
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()

	for _, path := range []string{"/index.html", "/doc.pdf"} {
		req := asynchttp.AcquireRequest()
		req.SetRequestURI(srv.URL + path)
		s := &sniffer{}
		resp, err := c.ExecuteHandler(context.Background(), req, s).Wait()
		switch {
		case s.skip:
			fmt.Println(path, "skipped:", errors.Is(err, asynchttp.ErrAborted))
		case err == nil:
			fmt.Println(path, "sha256", s.sum)
		}
		if resp != nil {
			asynchttp.ReleaseResponse(resp)
		}
		asynchttp.ReleaseRequest(req)
	}
	// Output:
	// /index.html sha256 7e537e903df5
	// /doc.pdf skipped: true
}

// Open connections ahead of a burst, so that it pays no dial latency.
func ExampleClient_Prewarm() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := asynchttp.New(asynchttp.Config{MaxConnsPerHost: 4})
	defer c.Close()

	n, err := c.Prewarm(context.Background(), srv.URL, 10)
	fmt.Println("opened:", n, err, "idle:", c.Stats().Idle)
	// Output: opened: 4 <nil> idle: 4
}

// Take a server out of rotation: its idle connections close now, busy
// ones when their response is done.
func ExampleClient_DrainHost() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	c.Prewarm(context.Background(), srv.URL, 3)

	found, err := c.DrainHost(srv.URL)
	st := c.Stats()
	fmt.Println(found, err, "open:", st.Open, "drained:", st.ClosedBy[asynchttp.CloseDrained])
	// Output: true <nil> open: 0 drained: 3
}

// Watch the pool's connections come and go.
func ExampleEvents() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var mu sync.Mutex
	var log []string
	note := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	c := asynchttp.New(asynchttp.Config{MaxRequestsPerConn: 2, Events: asynchttp.Events{
		ConnCreated:  func(asynchttp.ConnInfo) { note("created") },
		ConnAcquired: func(_ asynchttp.ConnInfo, reused bool) { note(fmt.Sprint("acquired reused=", reused)) },
		ConnReleased: func(asynchttp.ConnInfo) { note("released") },
		ConnClosed:   func(_ asynchttp.ConnInfo, why asynchttp.CloseReason) { note("closed: " + why.String()) },
	}})
	defer c.Close()
	req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetRequestURI(srv.URL)
	for range 2 {
		c.Do(context.Background(), req, resp)
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Println(strings.Join(log, "\n"))
	// Output:
	// created
	// acquired reused=false
	// released
	// acquired reused=true
	// released
	// closed: max requests
}
