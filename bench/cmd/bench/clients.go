// The clients under test, each behind one small interface: a worker is a
// function that sends one request to the given port and checks the reply.

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/bench/internal/server"
	"github.com/valyala/fasthttp"
)

// Client names, in table order.
const (
	cDo     = "asynchttp.Do"
	cRT     = "asynchttp.RoundTrip"
	cNet    = "net/http"
	cFast   = "fasthttp"
	cRaw    = "raw"
	allCols = cDo + "," + cRT + "," + cNet + "," + cFast + "," + cRaw
)

// A scenario is one load shape. The child and the parent agree on it by name.
type scenario struct {
	Name    string
	Label   string
	Conc    int
	Path    string
	Method  string
	ReqBody int
	Hosts   int  // ports used (1, or 64 for the crawl)
	Crawl   bool // visits of crawlVisit requests, crawlSame visits per host in a row
	Close   bool // the server answers Connection: close
}

const (
	crawlHosts     = 64
	crawlVisit     = 16 // requests per host visit
	crawlSame      = 8  // consecutive visits that go to the same host
	crawlTotalCap  = 32
	crawlPerHostCp = 4
	idlePerHost    = 64 // idle conns kept per host by every pooled client (net/http's default is 2)
)

var scenarios = []scenario{
	{Name: "small-c1", Label: "c=1 GET 13 B", Conc: 1, Path: server.PathSmall, Method: "GET", Hosts: 1},
	{Name: "small-c64", Label: "c=64 GET 13 B", Conc: 64, Path: server.PathSmall, Method: "GET", Hosts: 1},
	{Name: "16k-c16", Label: "c=16 GET 16 KiB", Conc: 16, Path: server.Path16K, Method: "GET", Hosts: 1},
	{Name: "1m-c4", Label: "c=4 GET 1 MiB", Conc: 4, Path: server.Path1M, Method: "GET", Hosts: 1},
	{Name: "post-c16", Label: "c=16 POST 1 KiB echo", Conc: 16, Path: server.PathEcho, Method: "POST", ReqBody: 1024, Hosts: 1},
	{Name: "close-c8", Label: "c=8 Connection: close", Conc: 8, Path: server.PathClose, Method: "GET", Hosts: 1, Close: true},
	{Name: "crawl", Label: "crawl 64 hosts, c=32, total≤32, per-host≤4", Conc: 32, Path: server.PathSmall, Method: "GET", Hosts: crawlHosts, Crawl: true},
}

func scenarioByName(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return scenario{}, false
}

type workerFunc func(port int) error

type client interface {
	worker() (workerFunc, error)
	close()
}

// newClient builds the named client for sc. In the crawl, cc (not nil)
// counts its connections client-side through its dial hook.
func newClient(name string, sc scenario, inf server.Info, cc *connCounter) (client, error) {
	payload := bytes.Repeat([]byte("x"), sc.ReqBody)
	urls := make([]string, sc.Hosts)
	for i := range urls {
		urls[i] = inf.URL(i, sc.Path)
	}
	want := server.BodyLen(sc.Path, sc.ReqBody)
	switch name {
	case cDo:
		cfg := asynchttp.Config{MaxIdleConnsPerHost: idlePerHost}
		if sc.Crawl {
			cfg = asynchttp.Config{MaxTotalConns: crawlTotalCap, MaxConnsPerHost: crawlPerHostCp, Dial: cc.dialContext}
		}
		return &doClient{c: asynchttp.New(cfg), sc: sc, urls: urls, payload: payload, want: want}, nil
	case cRT, cNet:
		var rt http.RoundTripper
		var closer func()
		if name == cRT {
			cfg := asynchttp.Config{MaxIdleConnsPerHost: idlePerHost}
			if sc.Crawl {
				cfg = asynchttp.Config{MaxTotalConns: crawlTotalCap, MaxConnsPerHost: crawlPerHostCp, Dial: cc.dialContext}
			}
			c := asynchttp.New(cfg)
			rt, closer = c, func() { c.Close() }
		} else {
			tr := &http.Transport{MaxIdleConnsPerHost: idlePerHost}
			if sc.Crawl {
				// No total cap exists in net/http: MaxIdleConns caps idle
				// connections only. Left unset (no cap), as documented.
				tr.MaxConnsPerHost = crawlPerHostCp
				tr.MaxIdleConnsPerHost = crawlPerHostCp
				tr.DialContext = cc.dialContext
			}
			rt, closer = tr, tr.CloseIdleConnections
		}
		return &stdClient{hc: &http.Client{Transport: rt}, closer: closer, sc: sc, urls: urls, payload: payload, want: want}, nil
	case cFast:
		fc := &fastClient{sc: sc, urls: urls, payload: payload, want: want}
		if sc.Crawl {
			// fasthttp.Client has MaxConnsPerHost but no total cap.
			fc.c = &fasthttp.Client{MaxConnsPerHost: crawlPerHostCp, MaxConnWaitTimeout: 30 * time.Second, Dial: cc.dial}
			fc.do = fc.c.Do
		} else {
			fc.hc = &fasthttp.HostClient{Addr: inf.Addr(0), MaxConns: 1024}
			fc.do = fc.hc.Do
		}
		return fc, nil
	case cRaw:
		return newRawClient(sc, inf, payload, cc)
	}
	return nil, fmt.Errorf("unknown client %q", name)
}

var ctxBG = context.Background()

// --- asynchttp Do ---

type doClient struct {
	c       *asynchttp.Client
	sc      scenario
	urls    []string
	payload []byte
	want    int
}

func (d *doClient) close() { d.c.Close() }

func (d *doClient) worker() (workerFunc, error) {
	req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
	if d.sc.Method != "GET" {
		req.SetMethod(d.sc.Method)
		req.SetBody(d.payload)
	}
	last := -1
	return func(port int) error {
		if port != last {
			req.SetRequestURI(d.urls[port])
			last = port
		}
		if err := d.c.Do(ctxBG, req, resp); err != nil {
			return err
		}
		if resp.StatusCode != 200 || len(resp.Body()) != d.want {
			return fmt.Errorf("status %d, body %d bytes, want 200 and %d", resp.StatusCode, len(resp.Body()), d.want)
		}
		return nil
	}, nil
}

// --- net/http's http.Client over a RoundTripper (asynchttp or Transport) ---

type stdClient struct {
	hc      *http.Client
	closer  func()
	sc      scenario
	urls    []string
	payload []byte
	want    int
}

func (s *stdClient) close() { s.closer() }

func (s *stdClient) worker() (workerFunc, error) {
	return func(port int) error {
		var body io.Reader
		if s.sc.ReqBody > 0 {
			body = bytes.NewReader(s.payload)
		}
		req, err := http.NewRequestWithContext(ctxBG, s.sc.Method, s.urls[port], body)
		if err != nil {
			return err
		}
		resp, err := s.hc.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || n != int64(s.want) {
			return fmt.Errorf("status %d, body %d bytes, want 200 and %d", resp.StatusCode, n, s.want)
		}
		return nil
	}, nil
}

// --- fasthttp HostClient (one host) or Client (crawl) ---

type fastClient struct {
	hc      *fasthttp.HostClient
	c       *fasthttp.Client
	do      func(*fasthttp.Request, *fasthttp.Response) error
	sc      scenario
	urls    []string
	payload []byte
	want    int
}

func (f *fastClient) close() {
	if f.hc != nil {
		f.hc.CloseIdleConnections()
	}
	if f.c != nil {
		f.c.CloseIdleConnections()
	}
}

func (f *fastClient) worker() (workerFunc, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.Header.SetMethod(f.sc.Method)
	if f.sc.ReqBody > 0 {
		req.SetBody(f.payload)
	}
	last := -1
	return func(port int) error {
		if port != last {
			req.SetRequestURI(f.urls[port])
			last = port
		}
		if err := f.do(req, resp); err != nil {
			return err
		}
		if resp.StatusCode() != 200 || len(resp.Body()) != f.want {
			return fmt.Errorf("status %d, body %d bytes, want 200 and %d", resp.StatusCode(), len(resp.Body()), f.want)
		}
		return nil
	}, nil
}

// --- raw socket: the floor for this server ---

// rawClient writes a pre-encoded request and reads a reply of known length
// (measured once by a probe) into a reused buffer. It keeps one connection
// per worker, redialing when the host changes or the server closes. It
// enforces no cap.
type rawClient struct {
	sc      scenario
	inf     server.Info
	reqs    [][]byte // per port
	respLen int
	dial    func(addr string) (net.Conn, error)
}

func newRawClient(sc scenario, inf server.Info, payload []byte, cc *connCounter) (*rawClient, error) {
	r := &rawClient{sc: sc, inf: inf, reqs: make([][]byte, sc.Hosts)}
	r.dial = func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
	if cc != nil {
		r.dial = cc.dial
	}
	for i := range r.reqs {
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", sc.Method, sc.Path, inf.Addr(i))
		if sc.ReqBody > 0 {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", sc.ReqBody)
		}
		b.WriteString("\r\n")
		b.Write(payload)
		r.reqs[i] = b.Bytes()
	}
	n, err := probe(inf.Addr(0), r.reqs[0])
	if err != nil {
		return nil, fmt.Errorf("raw probe: %w", err)
	}
	r.respLen = n
	return r, nil
}

// probe sends req once and returns the length of the whole reply.
func probe(addr string, req []byte) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	br := bufio.NewReader(c)
	head, cl := 0, -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		head += len(line)
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.EqualFold(k, "Content-Length") {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "\r\n" {
			break
		}
	}
	if cl < 0 {
		return 0, errors.New("no Content-Length in reply")
	}
	return head + cl, nil
}

func (r *rawClient) close() {}

func (r *rawClient) worker() (workerFunc, error) {
	buf := make([]byte, r.respLen)
	var conn net.Conn
	cur := -1
	return func(port int) error {
		if conn == nil || port != cur {
			if conn != nil {
				conn.Close()
			}
			c, err := r.dial(r.inf.Addr(port))
			if err != nil {
				conn = nil
				return err
			}
			conn, cur = c, port
		}
		if _, err := conn.Write(r.reqs[port]); err != nil {
			conn.Close()
			conn = nil
			return err
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			conn.Close()
			conn = nil
			return err
		}
		if r.sc.Close {
			conn.Close()
			conn = nil
		}
		return nil
	}, nil
}
