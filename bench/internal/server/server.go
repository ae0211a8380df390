// Package server is the benchmark's HTTP/1.1 server: fasthttp on many
// 127.0.0.1 ports, counting open connections per port server-side.
package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Endpoint paths and the body sizes they serve.
const (
	PathSmall = "/small" // 13-byte body
	Path16K   = "/16k"   // 16 KiB body
	Path1M    = "/1m"    // 1 MiB body
	PathEcho  = "/echo"  // POST: echoes the request body
	PathClose = "/close" // 13-byte body and Connection: close

	SmallBody = "Hello, World!"
)

var (
	body16K = pattern(16 << 10)
	body1M  = pattern(1 << 20)
)

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// BodyLen is the body length the server sends for path, given the request
// body length for PathEcho.
func BodyLen(path string, reqBody int) int {
	switch path {
	case Path16K:
		return len(body16K)
	case Path1M:
		return len(body1M)
	case PathEcho:
		return reqBody
	}
	return len(SmallBody)
}

// PortStats counts the connections of one port.
type PortStats struct {
	Port     int   `json:"port"`
	Accepted int64 `json:"accepted"`
	Open     int64 `json:"open"`
	MaxOpen  int64 `json:"max_open"`
}

// Stats is what the control endpoint reports.
type Stats struct {
	Accepted int64       `json:"accepted"`
	Open     int64       `json:"open"`
	MaxOpen  int64       `json:"max_open"` // max open at once over all ports
	MaxPort  int64       `json:"max_port"` // max open at once on any one port
	Ports    []PortStats `json:"ports"`
}

type counter struct {
	accepted atomic.Int64
	open     atomic.Int64
	max      atomic.Int64
}

// raiseMax makes n the maximum if it is above it.
func (c *counter) raiseMax(n int64) {
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			return
		}
	}
}

func (c *counter) reset() {
	c.accepted.Store(0)
	c.max.Store(c.open.Load())
}

// Server is a running benchmark server.
type Server struct {
	Ports   []int  // data ports, all on 127.0.0.1
	Control string // host:port of the control endpoint

	lns   []net.Listener
	ctl   net.Listener
	per   []counter
	total counter
	reg   registry
	srv   *fasthttp.Server
	cs    *fasthttp.Server
	wg    sync.WaitGroup
}

// Start listens on n ports of 127.0.0.1 (chosen by the kernel) and a
// control port, and serves them until Close.
func Start(n int) (*Server, error) {
	s := &Server{per: make([]counter, n)}
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.lns = append(s.lns, ln)
		s.Ports = append(s.Ports, ln.Addr().(*net.TCPAddr).Port)
	}
	ctl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.ctl = ctl
	s.Control = ctl.Addr().String()
	s.srv = &fasthttp.Server{Handler: handle, Name: "fasthttp"}
	s.cs = &fasthttp.Server{Handler: s.control}
	for i, ln := range s.lns {
		cl := &countListener{Listener: ln, port: &s.per[i], total: &s.total, reg: &s.reg}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = s.srv.Serve(cl) }()
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = s.cs.Serve(ctl) }()
	return s, nil
}

// Close stops listening and waits for the accept loops.
func (s *Server) Close() {
	for _, ln := range s.lns {
		ln.Close()
	}
	if s.ctl != nil {
		s.ctl.Close()
	}
	s.wg.Wait()
}

// Snapshot returns the connection counts.
func (s *Server) Snapshot() Stats {
	st := Stats{
		Accepted: s.total.accepted.Load(),
		Open:     s.total.open.Load(),
		MaxOpen:  s.total.max.Load(),
	}
	for i := range s.per {
		p := PortStats{
			Port:     s.Ports[i],
			Accepted: s.per[i].accepted.Load(),
			Open:     s.per[i].open.Load(),
			MaxOpen:  s.per[i].max.Load(),
		}
		st.MaxPort = max(st.MaxPort, p.MaxOpen)
		st.Ports = append(st.Ports, p)
	}
	return st
}

// Reset zeroes the accept counts and sets each maximum to what is open now.
func (s *Server) Reset() {
	s.reg.sweep(nil)
	for i := range s.per {
		s.per[i].reset()
	}
	s.total.reset()
}

func (s *Server) control(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/reset":
		s.Reset()
	case "/stats":
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	b, _ := json.Marshal(s.Snapshot())
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case PathSmall:
		ctx.Response.SetBodyRaw([]byte(SmallBody))
	case Path16K:
		ctx.Response.SetBodyRaw(body16K)
	case Path1M:
		ctx.Response.SetBodyRaw(body1M)
	case PathEcho:
		ctx.SetBody(ctx.PostBody())
	case PathClose:
		ctx.SetConnectionClose()
		ctx.Response.SetBodyRaw([]byte(SmallBody))
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}
}

// countListener counts accepted connections and their closes. A connection
// counts as closed from the first of: a read error (the peer closed it),
// Close, or a sweep that finds the peer's FIN waiting on the socket.
type countListener struct {
	net.Listener
	port, total *counter
	reg         *registry
}

// Accept counts a new connection. When it would set a new maximum (for its
// port, or in total), the open connections are first swept for peers that
// have closed: the server reads a client's FIN only when that
// connection's goroutine next runs, which may come after this accept, so
// without the sweep a client that closes one connection and dials the
// next would be counted one over its cap.
func (l *countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countConn{Conn: c, l: l}
	l.port.accepted.Add(1)
	l.total.accepted.Add(1)
	np, nt := l.reg.add(cc)
	if np > l.port.max.Load() {
		l.reg.sweep(l.port)
		np = l.port.open.Load()
	}
	if nt > l.total.max.Load() {
		l.reg.sweep(nil)
		nt = l.total.open.Load()
	}
	l.port.raiseMax(np)
	l.total.raiseMax(nt)
	return cc, nil
}

type countConn struct {
	net.Conn
	l   *countListener
	idx int // in the registry; -1 once released (guarded by registry.mu)
}

// release stops counting c, once. Leaving the registry and the counts
// happen together under the registry's lock, so that a sweep never reads
// a count that a release has claimed but not yet lowered.
func (c *countConn) release() {
	r := c.l.reg
	r.mu.Lock()
	r.releaseLocked(c)
	r.mu.Unlock()
}

// peerClosed reports whether the peer's FIN (or a reset) waits on the
// socket: a non-blocking MSG_PEEK that finds end of file or an error.
func (c *countConn) peerClosed() bool {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var b [1]byte
	rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (err == nil && n == 0) || (err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK)
	})
	return closed
}

// registry holds the open counted connections, for sweeps.
type registry struct {
	mu    sync.Mutex
	conns []*countConn
}

// add counts c as open and returns the open counts of its port and in
// total.
func (r *registry) add(c *countConn) (port, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.idx = len(r.conns)
	r.conns = append(r.conns, c)
	return c.l.port.open.Add(1), c.l.total.open.Add(1)
}

// releaseLocked takes c out of the registry and the open counts, unless
// that was done already.
func (r *registry) releaseLocked(c *countConn) {
	i := c.idx
	if i < 0 {
		return
	}
	last := len(r.conns) - 1
	r.conns[i] = r.conns[last]
	r.conns[i].idx = i
	r.conns[last] = nil
	r.conns = r.conns[:last]
	c.idx = -1
	c.l.port.open.Add(-1)
	c.l.total.open.Add(-1)
}

// sweep releases the connections (of one port's counter, or all when port
// is nil) whose peer has closed. The counts are final when it returns.
func (r *registry) sweep(port *counter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < len(r.conns); {
		c := r.conns[i]
		if (port == nil || c.l.port == port) && c.peerClosed() {
			r.releaseLocked(c) // moves the last conn to i: look at i again
			continue
		}
		i++
	}
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && n == 0 && (errors.Is(err, io.EOF) || !isTimeout(err)) {
		c.release()
	}
	return n, err
}

func (c *countConn) Close() error {
	c.release()
	return c.Conn.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Info is the line a server process prints on stdout once it listens.
type Info struct {
	Control string `json:"control"`
	Ports   []int  `json:"ports"`
}

// Info returns the addresses to print.
func (s *Server) Info() Info { return Info{Control: s.Control, Ports: s.Ports} }

// URL returns the URL of path on the i-th port.
func (inf Info) URL(i int, path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(inf.Ports[i]) + path
}

// Addr returns host:port of the i-th port.
func (inf Info) Addr(i int) string { return "127.0.0.1:" + strconv.Itoa(inf.Ports[i]) }

func (st Stats) String() string {
	return fmt.Sprintf("accepted=%d open=%d max_open=%d max_port=%d", st.Accepted, st.Open, st.MaxOpen, st.MaxPort)
}
