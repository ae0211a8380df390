// Examples of testing code that uses asynchttp with an in-memory Server.

package asynchttptest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttptest"
)

// A test that checks the code under test reuses its connection: three
// requests, one connection.
func Example() {
	srv := asynchttptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()

	c := asynchttp.New(asynchttp.Config{Dial: srv.Dial})
	defer c.Close()

	req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	for range 3 {
		req.SetRequestURI(srv.URL() + "/greeting")
		if err := c.Do(context.Background(), req, resp); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(resp.StatusCode, resp.BodyString())
	}

	st := c.Stats()
	fmt.Printf("client: %d requests over %d connection(s)\n", st.Created+st.Reused, st.Created)
	fmt.Printf("server: %d requests over %d connection(s)\n", srv.Requests(), srv.Conns())
	// Output:
	// 200 hello
	// 200 hello
	// 200 hello
	// client: 3 requests over 1 connection(s)
	// server: 3 requests over 1 connection(s)
}

// Through net/http: the Client made by Server.Client is an
// http.RoundTripper, closed with the server.
func ExampleServer_Client() {
	srv := asynchttptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	defer srv.Close()

	c := srv.Client(asynchttp.Config{MaxConnsPerHost: 1})
	hc := &http.Client{Transport: c}
	for _, path := range []string{"/a", "/b"} {
		resp, err := hc.Get(srv.URL() + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.Status, string(body))
	}
	fmt.Println("reused:", c.Stats().Reused)
	// Output:
	// 200 OK GET /a
	// 200 OK GET /b
	// reused: 1
}
