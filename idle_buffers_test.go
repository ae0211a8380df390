// An idle connection holds no buffer, and one waiting for its answer no
// write buffer: they are lent while in use.

package asynchttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connBuffers reports, for every open conn of c, whether it is idle and
// which buffers it holds.
type connBufs struct{ idle, reader, writer bool }

func connBuffers(c *Client) []connBufs {
	var out []connBufs
	c.pool.core.ForEachConn(func(pc pool.Conn, idle bool) {
		cn := pc.(*conn)
		out = append(out, connBufs{idle, cn.br != nil, cn.bw != nil})
	})
	return out
}

func TestIdleConnsHoldNoBuffers(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	c := newCheckedClient(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	get := func(ctx context.Context, path string) error {
		req, resp := AcquireRequest(), AcquireResponse()
		defer ReleaseRequest(req)
		defer ReleaseResponse(resp)
		req.SetRequestURI(srv.URL() + path)
		return c.Do(ctx, req, resp)
	}
	// In flight, its request written: a read buffer, no write buffer. (The
	// trace hook runs in the request's goroutine, which owns the conn.)
	var inFlight []connBufs
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotFirstResponseByte: func() { inFlight = connBuffers(c) },
	})
	require.NoError(t, get(tctx, "/first"))
	assert.Equal(t, []connBufs{{idle: false, reader: true, writer: false}}, inFlight)
	assert.Equal(t, []connBufs{{idle: true}}, connBuffers(c), "idle: no buffer at all")

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for i := range 20 {
				assert.NoError(t, get(ctx, fmt.Sprintf("/%d", i)))
			}
		})
	}
	wg.Wait()
	bufs := connBuffers(c)
	require.NotEmpty(t, bufs)
	for _, b := range bufs {
		assert.Equal(t, connBufs{idle: true}, b, "reused and idle again: no buffer")
	}
}
