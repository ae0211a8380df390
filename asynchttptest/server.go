// Server: an http.Handler served by net/http over a Listener.

package asynchttptest

import (
	"context"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynchttp/asynchttp"
)

// URL is the base URL of every Server. Any host name reaches the handler,
// since Server.Dial ignores the address; this one makes test output read
// well and is never looked up.
const URL = "http://asynchttp.test"

// Server serves an http.Handler with net/http's http.Server over in-memory
// connections, so that requests and responses are real HTTP/1.1 on the
// wire. Point a client at it with Dial (or make one with Client). It is
// safe for concurrent use.
type Server struct {
	// Config is the http.Server in use. Between NewUnstartedServer and
	// Start it may be changed (timeouts, ErrorLog, a ConnState hook of
	// its own, which is kept); afterwards it must not be.
	Config *http.Server

	l         *Listener
	started   bool
	serveDone chan struct{}
	closeOnce sync.Once

	nconns, nreqs atomic.Int64

	mu      sync.Mutex
	closed  bool
	live    map[net.Conn]bool // server ends not yet closed or hijacked
	hijack  map[net.Conn]bool // server ends taken over by a handler
	clients []*asynchttp.Client
	wg      sync.WaitGroup // one per live connection
}

// NewServer starts a Server for h. Close it when done.
func NewServer(h http.Handler) *Server {
	s := NewUnstartedServer(h)
	s.Start()
	return s
}

// NewUnstartedServer returns a Server for h that does not accept
// connections until Start, so that Config can be changed first.
func NewUnstartedServer(h http.Handler) *Server {
	return &Server{
		Config: &http.Server{Handler: h},
		l:      NewListener(),
		live:   make(map[net.Conn]bool),
		hijack: make(map[net.Conn]bool),
	}
}

// Start starts serving. It panics if the Server was started already.
func (s *Server) Start() {
	if s.started {
		panic("asynchttptest: Server started twice")
	}
	s.started = true
	h := s.Config.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.nreqs.Add(1)
		h.ServeHTTP(w, r)
	})
	hook := s.Config.ConnState
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		s.track(c, st)
		if hook != nil {
			hook(c, st)
		}
	}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		s.Config.Serve(s.l)
	}()
}

// track follows the server ends through their states. StateNew comes from
// the Serve goroutine, which Close waits for before it waits on s.wg.
func (s *Server) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.nconns.Add(1)
		s.live[c] = true
		s.wg.Add(1)
		if s.closed {
			c.Close() // accepted while Close ran
		}
	case http.StateHijacked:
		s.hijack[c] = true
		fallthrough
	case http.StateClosed:
		if s.live[c] {
			delete(s.live, c)
			s.wg.Done()
		}
	}
}

// URL returns "http://asynchttp.test", the constant URL.
func (s *Server) URL() string { return URL }

// Dial connects to the server whatever network and address it is given; it
// fits asynchttp.Config.Dial and http.Transport.DialContext. After Close it
// fails with an error wrapping net.ErrClosed. See Listener.Dial.
func (s *Server) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return s.l.Dial(ctx, network, address)
}

// Client returns a new asynchttp.Client made from cfg with its Dial set to
// s.Dial (replacing any Dial in cfg). Close closes it, before closing the
// server; closing it earlier is fine too. After Close, Client returns a
// closed Client.
func (s *Server) Client(cfg asynchttp.Config) *asynchttp.Client {
	cfg.Dial = s.Dial
	c := asynchttp.New(cfg)
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.clients = append(s.clients, c)
	}
	s.mu.Unlock()
	if closed {
		c.Close()
	}
	return c
}

// Conns returns how many connections the server has accepted.
func (s *Server) Conns() int { return int(s.nconns.Load()) }

// Requests returns how many requests have reached the handler.
func (s *Server) Requests() int { return int(s.nreqs.Load()) }

// CloseClientConnections closes the server end of every connection, idle
// or busy, hijacked ones included, as a server restart would; the server
// goes on accepting new ones. Clients see their idle connections closed by
// the server and busy ones fail.
func (s *Server) CloseClientConnections() {
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.live)+len(s.hijack))
	for c := range s.live {
		conns = append(conns, c)
	}
	for c := range s.hijack {
		conns = append(conns, c)
	}
	clear(s.hijack)
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// closeWarnAfter is how long Close waits for handlers before it logs that
// it is still waiting.
const closeWarnAfter = 5 * time.Second

// Close closes the clients made by Client, makes pending and later Dial
// calls fail, closes every connection and waits until the server's
// goroutines have exited and every handler has returned. Handlers blocked
// on something other than their connection should watch r.Context(),
// which ends when the connection closes; Close logs a warning every few
// seconds while one is still running. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		clients := s.clients
		s.clients = nil
		s.mu.Unlock()
		for _, c := range clients {
			c.Close()
		}
		s.l.Close()
		if !s.started {
			return
		}
		s.Config.Close()
		<-s.serveDone
		s.CloseClientConnections()

		done := make(chan struct{})
		go func() {
			s.wg.Wait()
			close(done)
		}()
		t := time.NewTicker(closeWarnAfter)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.logf("asynchttptest: Server.Close still waiting for %d handler(s) to return", s.liveCount())
			}
		}
	})
}

func (s *Server) liveCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

func (s *Server) logf(format string, args ...any) {
	if s.Config.ErrorLog != nil {
		s.Config.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}
