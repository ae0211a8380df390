// Test helpers: in-process servers on 127.0.0.1 that count their
// connections (server-side) and requests, and a way to run the tool.

package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/internal/leakcheck"
)

// The tool's clients must leave no library goroutine behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// testServer is a net/http server on 127.0.0.1 with a connCounter.
type testServer struct {
	addr     string // 127.0.0.1:port
	url      string // http://127.0.0.1:port
	conns    *connCounter
	requests atomic.Int64

	mu    sync.Mutex
	paths map[string]int // path → requests
	times []time.Time    // arrival of each request
}

// startServers starts n servers sharing one connCounter, so that its total
// peak is across all of them. Every address is known before h runs.
func startServers(t *testing.T, n int, h func(i int, srvs []*testServer) http.Handler) []*testServer {
	t.Helper()
	cc := newConnCounter()
	srvs := make([]*testServer, n)
	lns := make([]net.Listener, n)
	for i := range srvs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		srvs[i] = &testServer{addr: ln.Addr().String(), url: "http://" + ln.Addr().String(), conns: cc, paths: map[string]int{}}
	}
	for i, s := range srvs {
		inner := h(i, srvs)
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.requests.Add(1)
				s.mu.Lock()
				s.paths[r.URL.Path]++
				s.times = append(s.times, time.Now())
				s.mu.Unlock()
				inner.ServeHTTP(w, r)
			}),
			ConnState: cc.connState,
			ErrorLog:  discardLog,
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.Serve(lns[i])
		}()
		t.Cleanup(func() {
			srv.Close()
			<-done
		})
	}
	return srvs
}

func (s *testServer) pathCount(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[p]
}

// peak returns the server-side peak of connections to s.
func (s *testServer) peak() int {
	_, m := s.conns.peaks()
	return m[s.addr]
}

// runTool runs the command line args and returns its exit code and output.
func runTool(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// downAddr returns a 127.0.0.1 address with nothing listening.
func downAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// tableRows returns the rows of the per-host table in out: from the header
// line (starting "host") to the "total" row, split into fields.
func tableRows(t *testing.T, out string) (header []string, rows map[string][]string) {
	t.Helper()
	rows = map[string][]string{}
	in := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "host" {
			header, in = f, true
			continue
		}
		if in {
			rows[f[0]] = f
			if f[0] == "total" {
				return header, rows
			}
		}
	}
	t.Fatalf("no complete per-host table in:\n%s", out)
	return nil, nil
}

// The table's columns, in order (the demo adds "role" after "host").
var tableHeader = []string{"host", "reqs", "ok", "conns", "peak", "reuse", "p50", "p99", "polite", "limit", "retries", "ejected", "errors", "closed"}
