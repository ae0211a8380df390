// Servers the tests talk to: real ones on 127.0.0.1 that hold requests at a
// gate or answer with raw bytes, and net.Pipe servers for testing/synctest.

package asynchttp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/internal/testserver"
)

// gate holds handlers until it is opened, so a test controls how many
// requests are in flight at once.
type gate struct {
	ch     chan struct{}
	once   sync.Once
	inside atomic.Int32
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

func (g *gate) wait(r *http.Request) {
	g.inside.Add(1)
	select {
	case <-g.ch:
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func okHandler(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }

// holdServer answers "ok", holding requests for /hold at its gate until
// the gate opens.
func holdServer(t *testing.T) (*testserver.Counting, *gate) {
	g := newGate()
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			g.wait(r)
		}
		okHandler(w, r)
	}))
	return srv, g
}

// rawServer answers every request on a conn with the raw bytes reply
// returns for it, and closes the conn when reply says so.
func rawServer(t *testing.T, reply func(path string) (raw string, closeAfter bool)) *testserver.Scripted {
	return testserver.NewScripted(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, _, err := testserver.ReadRequest(br)
			if err != nil {
				return
			}
			raw, closeAfter := reply(req.URL.Path)
			if _, err := io.WriteString(c, raw); err != nil || closeAfter {
				return
			}
		}
	})
}

// pipeServer dials net.Pipe conns whose far ends are served by serve,
// each in a goroutine of the bubble.
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
