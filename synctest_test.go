// Timer-driven pool behaviour under testing/synctest: a fake clock over
// net.Pipe conns, so minutes pass instantly and every goroutine must end.

package asynchttp_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeServer dials net.Pipe conns whose far ends are served by fn, each in
// a goroutine of the bubble.
type pipeServer struct {
	serve  func(nc net.Conn)
	dialed int
	mu     sync.Mutex
}

func (s *pipeServer) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	cc, sc := net.Pipe()
	s.mu.Lock()
	s.dialed++
	s.mu.Unlock()
	go func() {
		defer sc.Close()
		s.serve(sc)
	}()
	return cc, nil
}

// serveOK answers each request with "ok" until the client hangs up.
func serveOK(hold <-chan struct{}) func(nc net.Conn) {
	return func(nc net.Conn) {
		br := bufio.NewReader(nc)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if hold != nil && req.URL.Path == "/hold" {
				<-hold
			}
			if _, err := io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	}
}

func TestSynctestDefaultIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &pipeServer{serve: serveOK(nil)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial})
		defer c.Close()
		_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1:80/")
		require.NoError(t, err)
		require.Equal(t, 1, c.Stats().Idle)

		time.Sleep(asynchttp.DefaultIdleTimeout - time.Second)
		synctest.Wait()
		assert.Equal(t, 1, c.Stats().Idle, "still idle just before the timeout")

		time.Sleep(2 * time.Second)
		synctest.Wait()
		st := c.Stats()
		assert.Zero(t, st.Open)
		assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseIdleTimeout])
		assert.Empty(t, asynchttp.CheckInvariants(c))
	})
}

func TestSynctestLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &pipeServer{serve: serveOK(nil)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnLifetime: 10 * time.Minute, IdleTimeout: time.Hour})
		defer c.Close()
		for range 3 {
			_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1:80/")
			require.NoError(t, err)
			time.Sleep(6 * time.Minute)
		}
		// Requests at 0, 6 and 12 minutes: the conn made at 0 is too old at 12.
		assert.Equal(t, 2, srv.dialed)
		assert.Equal(t, uint64(1), c.Stats().ClosedBy[asynchttp.CloseLifetime])
	})
}

func TestSynctestAcquireTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		srv := &pipeServer{serve: serveOK(hold)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 1, AcquireTimeout: time.Minute})
		defer c.Close()
		held := make(chan error, 1)
		go func() {
			_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1:80/hold")
			held <- err
		}()
		synctest.Wait()
		start := time.Now()
		_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1:80/")
		require.ErrorIs(t, err, asynchttp.ErrTooManyConns)
		assert.Equal(t, time.Minute, time.Since(start), "waited exactly AcquireTimeout")
		close(hold)
		require.NoError(t, <-held)
		assert.Empty(t, asynchttp.CheckInvariants(c))
	})
}

// queueOne makes a caller wait for the one conn of c (MaxConnsPerHost 1):
// /hold keeps it until hold closes, then a second GET, queued meanwhile,
// gets it. wait says when the second caller is queued.
func queueOne(t *testing.T, c *asynchttp.Client, hold chan struct{}, wait func()) {
	const url = "http://10.255.0.1:80"
	held, queued := make(chan error, 1), make(chan error, 1)
	go func() { _, _, err := get(t.Context(), c, "GET", url+"/hold"); held <- err }()
	wait()
	go func() { _, _, err := get(t.Context(), c, "GET", url+"/"); queued <- err }()
	wait()
	close(hold)
	require.NoError(t, <-held)
	require.NoError(t, <-queued)
}

// TestWaitersStayWithTheirClient: a caller that waits for a conn uses a
// recycled waiter and its channel. Waiters recycled across clients would
// carry channels across testing/synctest bubbles: a wait in a bubble on a
// channel made outside is not durably blocking (synctest.Wait never
// returns), and one made in a bubble and used outside panics.
func TestWaitersStayWithTheirClient(t *testing.T) {
	outside := func() {
		srv := &pipeServer{}
		hold := make(chan struct{})
		srv.serve = serveOK(hold)
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 1})
		defer c.Close()
		calls := 0
		queueOne(t, c, hold, func() {
			calls++
			eventually(t, "the first caller in flight, then the second queued", func() bool {
				st := c.Stats()
				return st.InUse == 1 && st.Waiting == calls-1
			})
		})
	}
	outside()
	synctest.Test(t, func(t *testing.T) {
		srv := &pipeServer{}
		hold := make(chan struct{})
		srv.serve = serveOK(hold)
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 1})
		defer c.Close()
		queueOne(t, c, hold, synctest.Wait)
		assert.Equal(t, uint64(1), c.Stats().Waits)
	})
	outside()
}
