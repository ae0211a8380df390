// Package asynchttptest serves an http.Handler to asynchttp clients over
// in-memory connections: real HTTP/1.1 from net/http's server, with no
// port, no name lookup and no network, so that a test can assert on what
// its code did to the pool, e.g. "3 requests over 1 connection".
//
//	srv := asynchttptest.NewServer(handler)
//	defer srv.Close()
//	c := srv.Client(asynchttp.Config{}) // or asynchttp.New(asynchttp.Config{Dial: srv.Dial})
//
//	req.SetRequestURI(srv.URL() + "/path") // "http://asynchttp.test/path"; any host routes to handler
//	err := c.Do(ctx, req, resp)
//	...
//	st := c.Stats()                         // the client's view: st.Created, st.Reused, ...
//	srv.Conns(), srv.Requests()             // the server's view
//
// The same client works under net/http: &http.Client{Transport: c}.
//
// The connections are buffered Pipes (a Write does not wait for the peer
// to read, up to BufferSize bytes) with working deadlines and close
// semantics, so client timeouts, cancellation and servers closing
// connections behave as they do over TCP. A Listener and Pipe are
// available on their own for servers other than net/http's.
//
// Nothing blocks outside channels and timers, so a Server works inside a
// testing/synctest bubble: idle timeouts, lifetimes and deadlines can be
// tested on the fake clock, and the bubble's end shows that Close left no
// goroutine behind.
//
// The client's check that an idle connection is still open before reuse
// peeks at a socket; in-memory connections have none, so a connection the
// server closed while idle is found out by the request sent on it (and an
// idempotent request is then retried once, as over TCP when the check
// misses a close).
package asynchttptest
