// Keep-Alive: timeout=N: a conn is retired just before the server would
// close it, and reused until then — as many connections as net/http opens
// against a server that keeps idle connections N seconds.

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

// keepAliveServer advertises Keep-Alive: timeout=1 and closes a
// connection idle for a second, as Apache does; it counts connections.
type keepAliveServer struct {
	mu    sync.Mutex
	conns int
}

func (s *keepAliveServer) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	cc, sc := net.Pipe()
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	go func() {
		defer sc.Close()
		br := bufio.NewReader(sc)
		for {
			sc.SetReadDeadline(time.Now().Add(time.Second))
			req, err := http.ReadRequest(br)
			if err != nil {
				return // idle a second (or the client hung up): closed
			}
			io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(sc, "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1, max=100\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	}()
	return cc, nil
}

func (s *keepAliveServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func TestKeepAliveTimeoutRetiresConnsJustBeforeTheServerDoes(t *testing.T) {
	for _, gap := range []time.Duration{900 * time.Millisecond, 940 * time.Millisecond, 1100 * time.Millisecond} {
		t.Run(gap.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 6
				ours := &keepAliveServer{}
				c := asynchttp.New(asynchttp.Config{Dial: ours.dial})
				defer c.Close()
				theirs := &keepAliveServer{}
				tr := &http.Transport{DialContext: theirs.dial}
				defer tr.CloseIdleConnections()
				hc := &http.Client{Transport: tr}
				for range n {
					status, _, err := get(t.Context(), c, "GET", "http://10.255.0.1/")
					require.NoError(t, err)
					require.Equal(t, 200, status)
					resp, err := hc.Get("http://10.255.0.1/")
					require.NoError(t, err)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					time.Sleep(gap)
					synctest.Wait()
				}
				t.Logf("gap %v: asynchttp opened %d connections, net/http %d", gap, ours.count(), theirs.count())
				if gap < 950*time.Millisecond {
					assert.Equal(t, 1, ours.count(), "reused while the server keeps it")
				} else {
					assert.Equal(t, n, ours.count(), "retired before the server closes it")
				}
				assert.Equal(t, theirs.count(), ours.count(), "as many as net/http")
			})
		})
	}
}
