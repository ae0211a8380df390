// Server: handlers reached through in-memory conns by Do and net/http,
// its counts, timeouts, Close and Hijack.

package asynchttptest_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttptest"
	"github.com/asynchttp/asynchttp/internal/leakcheck"
)

// noLeaks checks, once t is done, that no goroutine of this package, of
// net/http's server or of the asynchttp library outlives the test's
// servers and clients. It must be the first cleanup registered, so that it
// runs last; tests using it do not run in parallel.
func noLeaks(t *testing.T) {
	t.Cleanup(func() {
		leakcheck.Check(t)
		var left []string
		deadline := time.Now().Add(5 * time.Second)
		for {
			left = serverGoroutines()
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(left) > 0 {
			t.Errorf("%d server goroutine(s) leaked:\n\n%s", len(left), strings.Join(left, "\n\n"))
		}
	})
}

// serverGoroutines returns the stacks of live goroutines that run net/http
// server code or this package's code, other than tests'.
func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*M)") {
			continue
		}
		if strings.Contains(g, "net/http.(*conn)") || strings.Contains(g, "net/http.(*connReader)") ||
			strings.Contains(g, "net/http.(*Server)") || strings.Contains(g, "asynchttp/asynchttptest.") {
			out = append(out, g)
		}
	}
	return out
}

func newServer(t *testing.T, h http.HandlerFunc) *asynchttptest.Server {
	t.Helper()
	srv := asynchttptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func hello(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }

// get runs a GET through c.Do and returns status and body.
func get(ctx context.Context, c *asynchttp.Client, url string) (int, string, error) {
	req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	err := c.Do(ctx, req, resp)
	return resp.StatusCode, resp.BodyString(), err
}

func TestServerStats(t *testing.T) {
	noLeaks(t)
	srv := newServer(t, hello)
	c := srv.Client(asynchttp.Config{})
	for range 3 {
		code, body, err := get(context.Background(), c, srv.URL()+"/")
		require.NoError(t, err)
		assert.Equal(t, 200, code)
		assert.Equal(t, "hello", body)
	}
	st := c.Stats()
	assert.EqualValues(t, 1, st.Created)
	assert.EqualValues(t, 2, st.Reused)
	assert.Equal(t, 1, st.Idle)
	assert.Equal(t, 3, srv.Requests())
	assert.Equal(t, 1, srv.Conns())
	assert.Contains(t, st.Hosts, "http://asynchttp.test:80")
}

func TestServerAnyHostRoutes(t *testing.T) {
	noLeaks(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Host, r.URL.Path)
	})
	c := srv.Client(asynchttp.Config{})
	for _, url := range []string{"http://example.com/a", "http://10.1.2.3:8080/b", srv.URL() + "/c"} {
		code, body, err := get(context.Background(), c, url)
		require.NoError(t, err)
		assert.Equal(t, 200, code)
		host, path, _ := strings.Cut(body, " ")
		assert.Equal(t, url, "http://"+host+path)
	}
	assert.Equal(t, 3, srv.Conns(), "one connection per host key")
	assert.Len(t, c.Stats().Hosts, 3)
}

func TestServerRemoteAddrPerConn(t *testing.T) {
	noLeaks(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _, err := net.SplitHostPort(r.RemoteAddr)
		assert.NoError(t, err)
		io.WriteString(w, r.RemoteAddr)
	})
	c := srv.Client(asynchttp.Config{})
	_, first, err := get(context.Background(), c, srv.URL())
	require.NoError(t, err)
	_, again, err := get(context.Background(), c, srv.URL())
	require.NoError(t, err)
	assert.Equal(t, first, again, "same connection, same RemoteAddr")

	c.CloseIdleConnections()
	_, other, err := get(context.Background(), c, srv.URL())
	require.NoError(t, err)
	assert.NotEqual(t, first, other, "a new connection has a new RemoteAddr")
}

// TestServerHandlerNeverAnswers: the caller's deadline interrupts the read
// of the response head through the conn's deadline; the handler sees its
// request context end when the client closes the connection.
func TestServerHandlerNeverAnswers(t *testing.T) {
	noLeaks(t)
	handlerDone := make(chan error, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			handlerDone <- r.Context().Err()
		case <-time.After(10 * time.Second):
			handlerDone <- errors.New("request context never ended")
		}
	})
	c := srv.Client(asynchttp.Config{})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := get(ctx, c, srv.URL()+"/slow")
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "%v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var te *asynchttp.TimeoutError
	assert.ErrorAs(t, err, &te)

	assert.ErrorIs(t, <-handlerDone, context.Canceled)
	st := c.Stats()
	assert.Equal(t, 0, st.Open)
	assert.EqualValues(t, 1, st.Closed, "the interrupted conn is not reused")
}

func TestServerResponseHeaderTimeout(t *testing.T) {
	noLeaks(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	c := srv.Client(asynchttp.Config{ResponseHeaderTimeout: 50 * time.Millisecond})
	_, _, err := get(context.Background(), c, srv.URL())
	var te *asynchttp.TimeoutError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.Timeout())
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "our timeout, not the caller's")
}

func TestServerCancel(t *testing.T) {
	noLeaks(t)
	entered := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	})
	c := srv.Client(asynchttp.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-entered
		cancel()
	}()
	_, _, err := get(ctx, c, srv.URL())
	assert.ErrorIs(t, err, context.Canceled)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

const bigSize = 8 << 20

// TestServerLargeBodies sends and receives 8 MiB bodies, buffered and
// streamed, through Do and RoundTrip.
func TestServerLargeBodies(t *testing.T) {
	noLeaks(t)
	big := randomBytes(bigSize)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			io.WriteString(w, sha(b))
		case "/download":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
		case "/download-chunked":
			for b := big; len(b) > 0; b = b[min(len(b), 100_000):] {
				w.Write(b[:min(len(b), 100_000)])
				w.(http.Flusher).Flush()
			}
		case "/echo":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Write(b)
		}
	})
	c := srv.Client(asynchttp.Config{})
	hc := &http.Client{Transport: c}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("Do upload", func(t *testing.T) {
		req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
		defer asynchttp.ReleaseRequest(req)
		defer asynchttp.ReleaseResponse(resp)
		req.SetRequestURI(srv.URL() + "/upload")
		req.SetMethod("POST")
		req.SetBody(big)
		require.NoError(t, c.Do(ctx, req, resp))
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, sha(big), resp.BodyString())
	})
	t.Run("Do upload streamed", func(t *testing.T) {
		req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
		defer asynchttp.ReleaseRequest(req)
		defer asynchttp.ReleaseResponse(resp)
		req.SetRequestURI(srv.URL() + "/upload")
		req.SetMethod("PUT")
		req.SetBodyStream(bytes.NewReader(big), -1) // chunked
		require.NoError(t, c.Do(ctx, req, resp))
		assert.Equal(t, sha(big), resp.BodyString())
	})
	for _, path := range []string{"/download", "/download-chunked"} {
		t.Run("Do "+path, func(t *testing.T) {
			req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetRequestURI(srv.URL() + path)
			require.NoError(t, c.Do(ctx, req, resp))
			assert.Equal(t, sha(big), sha(resp.Body()))
		})
		t.Run("RoundTrip "+path, func(t *testing.T) {
			resp, err := hc.Get(srv.URL() + path)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, sha(big), sha(b))
		})
	}
	t.Run("RoundTrip echo", func(t *testing.T) {
		req, err := http.NewRequestWithContext(ctx, "POST", srv.URL()+"/echo", io.NopCloser(bytes.NewReader(big)))
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, sha(big), sha(b))
	})
	assert.Equal(t, 1, srv.Conns(), "every exchange left the connection reusable")
}

// TestServerConcurrent runs 50 requests at once through Do and through
// net/http, under a per-host cap.
func TestServerConcurrent(t *testing.T) {
	noLeaks(t)
	var inFlight, peak atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s:%d", r.URL.Path, len(b))
	})
	const n, maxConns = 50, 8
	c := srv.Client(asynchttp.Config{MaxConnsPerHost: maxConns})
	hc := &http.Client{Transport: c}

	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			path := fmt.Sprintf("/do/%d", i)
			req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetRequestURI(srv.URL() + path)
			req.SetMethod("POST")
			req.SetBody(bytes.Repeat([]byte("x"), i*1000))
			if assert.NoError(t, c.Do(context.Background(), req, resp)) {
				assert.Equal(t, fmt.Sprintf("%s:%d", path, i*1000), resp.BodyString())
			}
		})
		wg.Go(func() {
			path := fmt.Sprintf("/http/%d", i)
			resp, err := hc.Get(srv.URL() + path)
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			assert.NoError(t, err)
			assert.Equal(t, path+":0", string(b))
		})
	}
	wg.Wait()
	assert.Equal(t, 2*n, srv.Requests())
	assert.LessOrEqual(t, srv.Conns(), maxConns)
	assert.LessOrEqual(t, peak.Load(), int64(maxConns))
	st := c.Stats()
	assert.EqualValues(t, srv.Conns(), st.Created)
	assert.EqualValues(t, 2*n, st.Created+st.Reused)
}

func TestServerHTTPClient(t *testing.T) {
	noLeaks(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/target?from=redirect", http.StatusFound)
		case "/target":
			fmt.Fprintf(w, "target %s", r.URL.RawQuery)
		case "/headers":
			w.Header().Set("X-Echo", r.Header.Get("X-Test"))
			w.WriteHeader(http.StatusTeapot)
		case "/gzip":
			fmt.Fprint(w, r.Header.Get("Accept-Encoding"))
		default:
			http.NotFound(w, r)
		}
	})
	c := srv.Client(asynchttp.Config{})
	hc := &http.Client{Transport: c}

	resp, err := hc.Get(srv.URL() + "/redirect")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "target from=redirect", string(b))

	req, _ := http.NewRequest("GET", srv.URL()+"/headers", nil)
	req.Header.Set("X-Test", "yes")
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	assert.Equal(t, "yes", resp.Header.Get("X-Echo"))

	resp, err = hc.Get(srv.URL() + "/missing")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	assert.Equal(t, 1, srv.Conns())
	assert.Equal(t, 4, srv.Requests())
}

// TestServerCloseClientConnections: the idle connection closed by the
// server is found out by the next request, which is retried on a new
// connection.
func TestServerCloseClientConnections(t *testing.T) {
	noLeaks(t)
	srv := newServer(t, hello)
	c := srv.Client(asynchttp.Config{})
	_, _, err := get(context.Background(), c, srv.URL())
	require.NoError(t, err)

	srv.CloseClientConnections()
	code, body, err := get(context.Background(), c, srv.URL())
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	assert.Equal(t, "hello", body)
	assert.Equal(t, 2, srv.Conns())
	assert.Equal(t, 2, srv.Requests())
	st := c.Stats()
	assert.EqualValues(t, 2, st.Created)
	assert.Equal(t, 1, st.Open)
}

func TestServerCloseFailsPendingDials(t *testing.T) {
	noLeaks(t)
	srv := asynchttptest.NewUnstartedServer(http.HandlerFunc(hello)) // nobody accepts
	errc := make(chan error, 1)
	go func() {
		_, err := srv.Dial(context.Background(), "tcp", "x:80")
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	srv.Close()
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("dial still pending after Close")
	}
	_, err := srv.Dial(context.Background(), "tcp", "x:80")
	assert.ErrorIs(t, err, net.ErrClosed)
}

// TestServerCloseClosesConns: Close ends busy and idle connections of a
// client it does not own, and waits for the handlers.
func TestServerCloseClosesConns(t *testing.T) {
	noLeaks(t)
	entered := make(chan struct{}, 1)
	var returned atomic.Bool
	srv := asynchttptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-r.Context().Done()
			time.Sleep(20 * time.Millisecond) // Close must wait for this
			returned.Store(true)
			return
		}
		hello(w, r)
	}))
	c := asynchttp.New(asynchttp.Config{Dial: srv.Dial})
	defer c.Close()

	_, _, err := get(context.Background(), c, srv.URL()+"/") // leaves an idle conn
	require.NoError(t, err)
	blocked := make(chan error, 1)
	go func() {
		_, _, err := get(context.Background(), c, srv.URL()+"/block")
		blocked <- err
	}()
	<-entered

	srv.Close()
	assert.True(t, returned.Load(), "Close waited for the handler")
	select {
	case err := <-blocked:
		// The GET failed before any response byte and was retried on a
		// new connection, which could not be dialed.
		require.Error(t, err)
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("request still blocked after Close")
	}

	// The idle conn was closed by the server; the retry cannot dial.
	_, _, err = get(context.Background(), c, srv.URL()+"/")
	require.Error(t, err)
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.Equal(t, 0, c.Stats().Open)
	srv.Close() // idempotent
}

func TestServerCloseClosesItsClients(t *testing.T) {
	noLeaks(t)
	srv := asynchttptest.NewServer(http.HandlerFunc(hello))
	c := srv.Client(asynchttp.Config{})
	_, _, err := get(context.Background(), c, srv.URL())
	require.NoError(t, err)
	srv.Close()
	_, _, err = get(context.Background(), c, srv.URL())
	assert.ErrorIs(t, err, asynchttp.ErrClientClosed)

	_, _, err = get(context.Background(), srv.Client(asynchttp.Config{}), srv.URL())
	assert.ErrorIs(t, err, asynchttp.ErrClientClosed, "made after Close")
}

func TestServerHijack(t *testing.T) {
	noLeaks(t)
	hijacked := make(chan net.Conn, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if !assert.NoError(t, err) {
			return
		}
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nraw ok")
		brw.Flush()
		hijacked <- conn // kept open: Close must close it
	})
	c := srv.Client(asynchttp.Config{})
	code, body, err := get(context.Background(), c, srv.URL())
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	assert.Equal(t, "raw ok", body)

	conn := <-hijacked
	srv.Close()
	_, err = conn.Read(make([]byte, 1))
	assert.ErrorIs(t, err, net.ErrClosed, "Close closed the hijacked conn")
}

// TestServerConfig: a Config changed before Start is used, and the
// user's ConnState hook still runs.
func TestServerConfig(t *testing.T) {
	noLeaks(t)
	var mu sync.Mutex
	var states []http.ConnState
	srv := asynchttptest.NewUnstartedServer(http.HandlerFunc(hello))
	srv.Config.IdleTimeout = 20 * time.Millisecond
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		states = append(states, s)
		mu.Unlock()
	}
	srv.Start()
	t.Cleanup(srv.Close)
	assert.Panics(t, srv.Start)

	c := srv.Client(asynchttp.Config{})
	_, _, err := get(context.Background(), c, srv.URL())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(states) > 0 && states[len(states)-1] == http.StateClosed
	}, 5*time.Second, 5*time.Millisecond, "server closes the idle conn")

	// The client finds out on its next request and retries it.
	_, body, err := get(context.Background(), c, srv.URL())
	require.NoError(t, err)
	assert.Equal(t, "hello", body)
	assert.Equal(t, 2, srv.Conns())
	mu.Lock()
	assert.Equal(t, []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateClosed}, states[:4])
	mu.Unlock()
}

// TestServerRawHTTP speaks HTTP/1.1 by hand over Server.Dial: what the
// client sees is what net/http's server writes.
func TestServerRawHTTP(t *testing.T) {
	noLeaks(t)
	srv := newServer(t, hello)
	conn, err := srv.Dial(context.Background(), "tcp", "asynchttp.test:80")
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: asynchttp.test\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "HTTP/1.1", resp.Proto)
	assert.Equal(t, int64(5), resp.ContentLength)
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "hello", string(b))
}
