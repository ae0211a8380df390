// Counting: a net/http server that counts its connections and requests.

package testserver

import (
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Counting is a net/http server on 127.0.0.1 that tracks, through its
// ConnState hook, how many connections are open now, the most open at
// once, how many it accepted, and how many requests reached its handler.
type Counting struct {
	srv       *http.Server
	ln        net.Listener
	serveDone chan struct{} // closed when Serve returns
	conns     sync.WaitGroup
	handlers  sync.WaitGroup
	requests  atomic.Int64
	closeOnce sync.Once

	mu       sync.Mutex
	open     int
	maxOpen  int
	accepted int
	changed  chan struct{} // closed and replaced whenever open changes
	logOff   bool          // t may no longer be logged to
}

// NewCounting starts a Counting server for h on 127.0.0.1 with a free
// port. The server's error log goes to t.Log. t.Cleanup runs Close.
func NewCounting(t testing.TB, h http.Handler) *Counting {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: listen: %v", err)
	}
	s := &Counting{
		ln:        ln,
		serveDone: make(chan struct{}),
		changed:   make(chan struct{}),
	}
	s.srv = &http.Server{
		Handler:   s.wrap(h),
		ConnState: s.connState,
		ErrorLog:  log.New(logWriter{s, t}, "testserver: ", 0),
	}
	go func() {
		defer close(s.serveDone)
		s.srv.Serve(ln)
	}()
	t.Cleanup(s.Close)
	return s
}

func (s *Counting) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Count on entry: a client that has its response has been
		// counted, even if the handler flushed early.
		s.handlers.Add(1)
		defer s.handlers.Done()
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	})
}

// connState runs on Serve's goroutine for StateNew and on the conn's own
// goroutine for the rest; every StateNew is followed by exactly one
// StateClosed or StateHijacked.
func (s *Counting) connState(_ net.Conn, state http.ConnState) {
	s.mu.Lock()
	switch state {
	case http.StateNew:
		s.conns.Add(1) // on Serve's goroutine, so before Close waits
		s.accepted++
		s.open++
		s.maxOpen = max(s.maxOpen, s.open)
	case http.StateClosed, http.StateHijacked:
		s.open--
		// Close waits for conns; the count must be final by then.
		defer s.conns.Done()
	default:
		s.mu.Unlock()
		return
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// URL returns "http://127.0.0.1:port".
func (s *Counting) URL() string { return "http://" + s.Addr() }

// Addr returns the listening address, "127.0.0.1:port".
func (s *Counting) Addr() string { return s.ln.Addr().String() }

// Open returns how many connections are open now (accepted and neither
// closed nor hijacked).
func (s *Counting) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

// MaxOpen returns the most connections open at once since the start or
// the last ResetMax.
func (s *Counting) MaxOpen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxOpen
}

// Accepted returns how many connections the server has accepted.
func (s *Counting) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Requests returns how many requests have reached the handler.
func (s *Counting) Requests() int { return int(s.requests.Load()) }

// ResetMax sets MaxOpen to the number of connections open now.
func (s *Counting) ResetMax() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxOpen = s.open
}

// WaitOpen blocks until Open() == n and fails t (t.Fatalf) if that has not
// happened within timeout. Use it where the server must be seen to close
// connections, or a client to close its idle ones.
func (s *Counting) WaitOpen(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		open, changed := s.open, s.changed
		s.mu.Unlock()
		if open == n {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("testserver: %d connection(s) open after %v, want %d", s.Open(), timeout, n)
			return
		}
	}
}

// Close closes the listener and every connection, including those with a
// request in progress, and waits until Serve has returned, every
// connection is counted closed and every handler has returned. A handler blocked on anything but its request's
// context or connection keeps Close waiting. Connections the handler
// hijacked are its own to close. Close is idempotent.
func (s *Counting) Close() {
	s.closeOnce.Do(func() {
		s.srv.Close()
		<-s.serveDone
		// A conn accepted just as the first Close ran may have been
		// tracked after it; Serve has returned, so none comes later.
		s.srv.Close()
		s.conns.Wait()
		s.handlers.Wait()
		s.mu.Lock()
		s.logOff = true
		s.mu.Unlock()
	})
}

// logWriter sends the server's error log to t until Close has returned,
// after which t may belong to a finished test.
type logWriter struct {
	s *Counting
	t testing.TB
}

func (w logWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if !w.s.logOff {
		w.t.Log(string(p))
	}
	return len(p), nil
}
