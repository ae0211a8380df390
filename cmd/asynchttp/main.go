// Command asynchttp is a small demonstration of the asynchttp pool: it
// starts a few local HTTP servers on 127.0.0.1 (one "host" each), sends
// requests to them through one Client under a total and a per-host cap, and
// prints what the pool did.
//
// Usage:
//
//	go run ./cmd/asynchttp [-hosts 4] [-requests 400] [-concurrency 32] [-total 8] [-per-host 3]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/asynchttp/asynchttp"
)

func main() {
	hosts := flag.Int("hosts", 4, "local servers to start, one port (host) each")
	requests := flag.Int("requests", 400, "requests to send in all")
	concurrency := flag.Int("concurrency", 32, "requests in flight at once")
	total := flag.Int("total", 8, "Config.MaxTotalConns")
	perHost := flag.Int("per-host", 3, "Config.MaxConnsPerHost")
	flag.Parse()
	if err := run(*hosts, *requests, *concurrency, *total, *perHost); err != nil {
		fmt.Fprintln(os.Stderr, "asynchttp:", err)
		os.Exit(1)
	}
}

// site is the local servers, counting the connections they see.
type site struct {
	urls          []string
	srv           *http.Server
	mu            sync.Mutex
	open, maxOpen int
}

func startSite(n int) (*site, error) {
	s := &site{}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * time.Millisecond) // a little server think time
			fmt.Fprintf(w, "page %s from %s\n", r.URL.Path, r.Host)
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch st {
			case http.StateNew:
				s.open++
				s.maxOpen = max(s.maxOpen, s.open)
			case http.StateClosed, http.StateHijacked:
				s.open--
			}
		},
	}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.srv.Close()
			return nil, err
		}
		s.urls = append(s.urls, "http://"+ln.Addr().String())
		go s.srv.Serve(ln)
	}
	return s, nil
}

// dialer counts the connections the client has open: dialed and not yet
// closed.
type dialer struct {
	open, maxOpen atomic.Int64
}

type countedConn struct {
	net.Conn
	d    *dialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.d.open.Add(-1) })
	return c.Conn.Close()
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	n := d.open.Add(1)
	for m := d.maxOpen.Load(); n > m && !d.maxOpen.CompareAndSwap(m, n); m = d.maxOpen.Load() {
	}
	return &countedConn{Conn: nc, d: d}, nil
}

func run(hosts, requests, concurrency, total, perHost int) error {
	if hosts < 1 || requests < 1 || concurrency < 1 {
		return fmt.Errorf("-hosts, -requests and -concurrency must be positive")
	}
	s, err := startSite(hosts)
	if err != nil {
		return err
	}
	defer s.srv.Close()

	var d dialer
	c := asynchttp.New(asynchttp.Config{MaxTotalConns: total, MaxConnsPerHost: perHost, Dial: d.dial})
	defer c.Close()
	fmt.Printf("asynchttp demo: %d requests to %d local hosts, %d at a time, MaxTotalConns=%d MaxConnsPerHost=%d\n",
		requests, hosts, concurrency, total, perHost)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	var next, failed, bytes atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			for {
				i := next.Add(1) - 1
				if i >= int64(requests) {
					return
				}
				req.SetRequestURI(fmt.Sprintf("%s/page/%d", s.urls[i%int64(hosts)], i))
				if err := c.Do(ctx, req, resp); err != nil {
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "request failed:", err)
					continue
				}
				bytes.Add(int64(len(resp.Body())))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	st := c.Stats()
	fmt.Printf("done in %v: %d ok, %d failed, %d body bytes, %.0f req/s\n",
		elapsed.Round(time.Millisecond), int64(requests)-failed.Load(), failed.Load(), bytes.Load(),
		float64(requests)/elapsed.Seconds())
	s.mu.Lock()
	fmt.Printf("most connections open at once: %d by the client (cap %d), %d seen by the servers\n",
		d.maxOpen.Load(), total, s.maxOpen)
	fmt.Println("  (a server counts a closed connection until it reads the FIN, so it may see one more)")
	s.mu.Unlock()
	fmt.Printf("pool: created %d, reused %d, open %d (idle %d), closed %d\n",
		st.Created, st.Reused, st.Open, st.Idle, st.Closed)

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "host\topen\tidle\tcreated\treused\tclosed\t")
	keys := make([]string, 0, len(st.Hosts))
	for k := range st.Hosts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h := st.Hosts[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", k, h.Open, h.Idle, h.Created, h.Reused, h.Closed)
	}
	tw.Flush()
	for r, n := range st.ClosedBy {
		fmt.Printf("closed by %s: %d\n", r, n)
	}
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
	}
	return nil
}
