// Package testserver holds fake HTTP servers for the library's tests: a
// raw-TCP Scripted server that plays a hand-written (often hostile) peer,
// and a net/http Counting server that counts its connections.
//
// All servers listen on 127.0.0.1 only and close themselves in t.Cleanup.
package testserver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// Scripted is a raw TCP server on 127.0.0.1 that hands every accepted
// conn to a script. Its goroutines all end in Close.
type Scripted struct {
	ln     net.Listener
	handle func(net.Conn)
	wg     sync.WaitGroup // accept loop and handlers

	mu       sync.Mutex
	conns    map[net.Conn]struct{} // live conns, closed by Close
	accepted int
	closed   bool
}

// NewScripted starts a Scripted server on 127.0.0.1 with a free port.
// handle runs in its own goroutine for each accepted conn and may return at
// any time; the conn is closed after it returns. Close (run by t.Cleanup)
// closes every conn and waits for handle to return, so handle must not
// block on anything but its conn. handle must not call t.FailNow (or
// require.*): it does not run on the test goroutine; use t.Errorf or assert.
func NewScripted(t testing.TB, handle func(c net.Conn)) *Scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: listen: %v", err)
	}
	s := &Scripted{ln: ln, handle: handle, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.Close)
	return s
}

func (s *Scripted) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			// Close closed the listener; nothing else makes a
			// loopback listener fail for good.
			return
		}
		if !s.track(c) {
			c.Close()
			return
		}
		go s.serve(c)
	}
}

// track registers c as live and counts it; it reports false if the server
// is closed, in which case c is not the server's to serve.
func (s *Scripted) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.accepted++
	s.wg.Add(1) // before Close can Wait: Close takes mu first
	return true
}

func (s *Scripted) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	s.handle(c)
}

// Addr returns the listening address, "127.0.0.1:port".
func (s *Scripted) Addr() string { return s.ln.Addr().String() }

// URL returns "http://127.0.0.1:port".
func (s *Scripted) URL() string { return "http://" + s.Addr() }

// Accepted returns how many conns the server has accepted so far.
func (s *Scripted) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Close closes the listener and every live conn, then waits for the accept
// loop and every handler to return. It is safe to call more than once and
// from several goroutines; each call returns once all are done.
func (s *Scripted) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.ln.Close()
		for c := range s.conns {
			// Unblocks the handler's Read or Write.
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// ReadRequest reads one request (head and whole body, whether framed by
// Content-Length or chunked) from br. It returns the request, whose Body is
// replaced by a reader over the same bytes, and the body.
func ReadRequest(br *bufio.Reader) (*http.Request, []byte, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return req, body, fmt.Errorf("testserver: reading request body: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return req, body, nil
}

// Respond writes, in one Write, a response with the given status, a
// Content-Length header for body, the extra header lines (each "Name:
// value", without CRLF) and the body. Status codes net/http has no text for
// get the text "status".
func Respond(c net.Conn, status int, body string, extraHeaders ...string) error {
	text := http.StatusText(status)
	if text == "" {
		text = "status"
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + text + "\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	for _, h := range extraHeaders {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	_, err := c.Write(b.Bytes())
	return err
}
