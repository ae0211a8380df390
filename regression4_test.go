// Fourth review (commits 00df6c3: bufio buffers recycled at close, one
// context per dial; af2f466: dispatch through a heap of hosts). These tests
// probe the paths the review looked at; they pass on the reviewed code and
// guard against regressions.

package asynchttp

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/internal/leakcheck"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// r4Body is the body the server sends for request id: distinct per id and
// longer than a conn's 4 KiB read buffer.
func r4Body(id string) string {
	return strings.Repeat("<"+id+">", 6000/(len(id)+2)+1)
}

// r4Client is a Client closed (and checked) when the test ends. Make it
// before the test's servers so that they close first.
func r4Client(t *testing.T, cfg Config) *Client {
	t.Helper()
	snap := leakcheck.Take()
	c := New(cfg)
	t.Cleanup(func() {
		assert.Empty(t, c.pool.checkInvariants(), "pool invariants")
		require.NoError(t, c.Close())
		assert.Empty(t, c.pool.checkInvariants(), "pool invariants after Close")
		snap.Check(t)
	})
	return c
}

// TestRegression4RecycledBuffersNoCrossTalk churns conns (Connection:
// close, early 413s, bodies closed early, cancellations, handler aborts,
// full-duplex echoes) so that buffers of closed conns are recycled into new
// ones while other exchanges run; every body read to its end must be its
// own request's, and nothing may panic on a recycled (nil) buffer.
func TestRegression4RecycledBuffersNoCrossTalk(t *testing.T) {
	c := r4Client(t, Config{MaxConnsPerHost: 3, MaxTotalConns: 4, ExpectContinueTimeout: 20 * time.Millisecond})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/") // /id/mode
		id, mode := parts[1], parts[2]
		switch mode {
		case "close":
			w.Header().Set("Connection", "close")
		case "gz":
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, r4Body(id))
			zw.Close()
			return
		case "echo":
			body, _ := io.ReadAll(r.Body)
			w.Write(body)
			return
		case "refuse":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		io.WriteString(w, r4Body(id))
	}))
	hc := &http.Client{Transport: c}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const workers, rounds = 12, 40
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 4))
			for i := range rounds {
				if ctx.Err() != nil {
					t.Errorf("worker %d: out of time", g)
					return
				}
				id := strconv.Itoa(g*1000 + i)
				if err := r4Op(ctx, c, hc, srv.URL(), id, rng.IntN(7), rng); err != nil {
					t.Errorf("worker %d op %s: %v", g, id, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// r4Op runs one exchange of kind op and checks what it read.
func r4Op(ctx context.Context, c *Client, hc *http.Client, base, id string, op int, rng *rand.Rand) error {
	want := r4Body(id)
	switch op {
	case 0, 1: // Do, keep-alive or Connection: close
		mode := "plain"
		if op == 1 {
			mode = "close"
		}
		req, resp := AcquireRequest(), AcquireResponse()
		defer ReleaseRequest(req)
		defer ReleaseResponse(resp)
		req.SetRequestURI(base + "/" + id + "/" + mode)
		if err := c.Do(ctx, req, resp); err != nil {
			return err
		}
		if string(resp.Body()) != want {
			return fmt.Errorf("Do: body of another request (%.20q)", resp.Body())
		}
	case 2: // RoundTrip, gzip, read to the end
		hr, err := hc.Get(base + "/" + id + "/gz")
		if err != nil {
			return err
		}
		b, err := io.ReadAll(hr.Body)
		hr.Body.Close()
		if err != nil {
			return err
		}
		if string(b) != want {
			return fmt.Errorf("RoundTrip gz: body of another request (%.20q)", b)
		}
	case 3: // RoundTrip, body closed early (drained or closed)
		hr, err := hc.Get(base + "/" + id + "/close")
		if err != nil {
			return err
		}
		var part [100]byte
		n, _ := io.ReadFull(hr.Body, part[:])
		hr.Body.Close()
		if string(part[:n]) != want[:n] {
			return fmt.Errorf("RoundTrip: first bytes of another request (%q)", part[:n])
		}
	case 4: // full-duplex echo of a streamed body, or a 413 before the body
		mode := "echo"
		if rng.IntN(2) == 0 {
			mode = "refuse"
		}
		pr, pw := io.Pipe()
		go func() {
			for j := 0; j < len(want); j += 1000 {
				if _, err := io.WriteString(pw, want[j:min(j+1000, len(want))]); err != nil {
					return
				}
			}
			pw.Close()
		}()
		hreq, _ := http.NewRequestWithContext(ctx, "POST", base+"/"+id+"/"+mode, pr)
		if rng.IntN(2) == 0 {
			hreq.Header.Set("Expect", "100-continue")
		}
		hr, err := hc.Do(hreq)
		pr.CloseWithError(errors.New("done")) // ends the writer whatever happened
		if err != nil {
			if mode == "refuse" {
				return nil // the server may cut the upload: not what this probes
			}
			return err
		}
		b, err := io.ReadAll(hr.Body)
		hr.Body.Close()
		if err != nil {
			return err
		}
		if mode == "echo" && string(b) != want {
			return fmt.Errorf("echo: body of another request (%.20q)", b)
		}
	case 5: // canceled at a random moment: any outcome, but a body read whole is ours
		cctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(400))*time.Microsecond)
		defer cancel()
		req, resp := AcquireRequest(), AcquireResponse()
		defer ReleaseRequest(req)
		defer ReleaseResponse(resp)
		req.SetRequestURI(base + "/" + id + "/plain")
		if err := c.Do(cctx, req, resp); err == nil && string(resp.Body()) != want {
			return fmt.Errorf("canceled Do: body of another request (%.20q)", resp.Body())
		}
	case 6: // a Handler that aborts after the first part
		req := AcquireRequest()
		defer ReleaseRequest(req)
		req.SetRequestURI(base + "/" + id + "/plain")
		h := &r4Handler{}
		resp, err := c.ExecuteHandler(ctx, req, h).Wait()
		if resp != nil {
			ReleaseResponse(resp)
		}
		if !errors.Is(err, ErrAborted) {
			return fmt.Errorf("handler: %v", err)
		}
		if !strings.HasPrefix(want, h.first) {
			return fmt.Errorf("handler: first part of another request (%.20q)", h.first)
		}
	}
	return nil
}

type r4Handler struct{ first string }

func (h *r4Handler) OnStatus(*Response) Action  { return Continue }
func (h *r4Handler) OnHeaders(*Response) Action { return Continue }
func (h *r4Handler) OnBodyPart(p []byte) Action {
	h.first = string(p)
	return Abort
}
func (h *r4Handler) OnComplete(*Response) {}
func (h *r4Handler) OnError(error)        {}

// r4Pool is a client whose dials are net.Pipe ends (no traffic): for
// driving acquire and release directly.
func r4Pool(t *testing.T, cfg Config) *Client {
	var mu sync.Mutex
	var ends []net.Conn
	cfg.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		a, z := net.Pipe()
		mu.Lock()
		ends = append(ends, z)
		mu.Unlock()
		return a, nil
	}
	c := New(cfg)
	t.Cleanup(func() {
		assert.Empty(t, c.pool.checkInvariants())
		c.Close()
		mu.Lock()
		for _, z := range ends {
			z.Close()
		}
		mu.Unlock()
	})
	return c
}

func r4Req(t *testing.T, host string) *Request {
	req := AcquireRequest()
	req.SetRequestURI("http://" + host + "/")
	require.NoError(t, req.prepare())
	t.Cleanup(func() { ReleaseRequest(req) })
	return req
}

type r4Got struct {
	name string
	cn   *conn
	err  error
}

// r4Wait starts acquire(req) for name in a goroutine and returns once it
// is queued (the pool's waiter count reaches n).
func r4Wait(t *testing.T, ctx context.Context, c *Client, name string, req *Request, fresh bool, n int, out chan<- r4Got) {
	go func() {
		cn, err := c.pool.acquire(ctx, req, fresh)
		out <- r4Got{name, cn, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c.pool.waiting() == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s never queued", name)
		time.Sleep(100 * time.Microsecond) // polling, bounded by the deadline
	}
}

func r4Next(t *testing.T, ch <-chan r4Got) r4Got {
	t.Helper()
	select {
	case g := <-ch:
		require.NoError(t, g.err, g.name)
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no waiter was served (a lost wake-up?)")
	}
	return r4Got{}
}

// TestRegression4DispatchArrivalOrderAcrossHosts: under MaxTotalConns a
// freed slot goes to the oldest waiter of any host that may dial; a host
// held by its own MaxConnsPerHost is skipped and comes back, in its
// arrival order, when one of its own slots frees.
func TestRegression4DispatchArrivalOrderAcrossHosts(t *testing.T) {
	c := r4Pool(t, Config{MaxTotalConns: 2, MaxConnsPerHost: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b, cc, d := r4Req(t, "10.0.0.1"), r4Req(t, "10.0.0.2"), r4Req(t, "10.0.0.3"), r4Req(t, "10.0.0.4")
	a1, err := c.pool.acquire(ctx, a, false)
	require.NoError(t, err)
	b1, err := c.pool.acquire(ctx, b, false)
	require.NoError(t, err)

	got := make(chan r4Got, 8)
	r4Wait(t, ctx, c, "A2", a, false, 1, got) // held by A's own cap (and the total)
	r4Wait(t, ctx, c, "C1", cc, false, 2, got)
	r4Wait(t, ctx, c, "D1", d, false, 3, got)
	r4Wait(t, ctx, c, "A3-fresh", a, true, 4, got)

	c.pool.closeConn(b1, CloseError) // a total slot: A is at its cap, C is next
	g := r4Next(t, got)
	require.Equal(t, "C1", g.name)
	c.pool.release(g.cn) // idle: D evicts it
	g = r4Next(t, got)
	require.Equal(t, "D1", g.name)
	c.pool.closeConn(g.cn, CloseError)
	c.pool.closeConn(a1, CloseError) // A's own slot frees: A is back in the queue
	g = r4Next(t, got)
	require.Equal(t, "A2", g.name)
	a2 := g.cn
	c.pool.release(a2) // A3 is fresh: it replaces the idle conn with a new one
	g = r4Next(t, got)
	require.Equal(t, "A3-fresh", g.name)
	require.NotSame(t, a2, g.cn)
	c.pool.release(g.cn)
	require.Empty(t, c.pool.checkInvariants())
}

// TestRegression4DialCanceledByClose: a dial blocked in Config.Dial is
// stopped by Close (the dial's one context is tracked) and the caller gets
// ErrClientClosed.
func TestRegression4DialCanceledByClose(t *testing.T) {
	entered := make(chan struct{}, 1)
	c := New(Config{Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := r4Req(t, "10.0.0.9")
	done := make(chan error, 1)
	go func() {
		_, err := c.pool.acquire(ctx, req, false)
		done <- err
	}()
	<-entered
	require.NoError(t, c.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrClientClosed)
	case <-ctx.Done():
		t.Fatal("dial not stopped by Close")
	}
	require.Empty(t, c.pool.checkInvariants())
}
