package asynchttp_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"

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
