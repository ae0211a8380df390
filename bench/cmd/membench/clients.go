// The clients under test behind one function: get(url) sends one GET and
// checks the reply.

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/valyala/fasthttp"
)

const (
	cAsync = "asynchttp"
	cNet   = "net/http"
	cFast  = "fasthttp"
)

type clientOpts struct {
	name        string
	maxIdle     int           // idle conns per host to keep (idle/in-flight scenario)
	idleTimeout time.Duration // 0: long (5 min)
	ports       []int         // non-nil: resolve crawl host names through the client's hook
	roots       *x509.CertPool
	sessCache   bool // a tls.NewLRUClientSessionCache for the client
	noSessCache bool // asynchttp: Config.DisableTLSSessionCache
	handshakes  int  // asynchttp: Config.MaxConcurrentHandshakes (0: its default)
	zero        bool // the client's zero/default config (crawl-zero scenario)
	noKeepAlive bool
	idleCap     int // >0: cap on connections kept across hosts (asynchttp MaxTotalConns and MaxIdleConns, net/http MaxIdleConns; fasthttp has none)
}

type testClient struct {
	get       func(ctx context.Context, url string) error
	closeIdle func()
	close     func()
}

const bodyWant = "hello, world\n"

func loadRoots(certFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("no certificate in %s", certFile)
	}
	return p, nil
}

func newTestClient(o clientOpts) (*testClient, error) {
	idle := o.idleTimeout
	if idle == 0 {
		idle = 5 * time.Minute
	}
	var tcfg *tls.Config
	if o.roots != nil {
		tcfg = &tls.Config{RootCAs: o.roots}
		if o.sessCache {
			tcfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
		}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	mapAddr := func(addr string) (string, error) {
		if o.ports == nil {
			return addr, nil
		}
		return hostAddr(addr, o.ports)
	}
	switch o.name {
	case cAsync:
		// MaxIdleConns -1: every connection is kept, as net/http's
		// MaxIdleConns 0 and fasthttp keep them (the crawl's cap below
		// sets it as net/http's MaxIdleConns).
		cfg := asynchttp.Config{MaxIdleConnsPerHost: o.maxIdle, MaxIdleConns: -1, IdleTimeout: idle, TLSConfig: tcfg}
		if o.zero {
			cfg = asynchttp.Config{TLSConfig: tcfg}
		}
		if o.noKeepAlive {
			cfg.MaxIdleConnsPerHost = -1
		}
		if o.idleCap > 0 {
			cfg.MaxTotalConns, cfg.MaxIdleConns = o.idleCap, o.idleCap
		}
		if o.ports != nil {
			ports := o.ports
			cfg.LookupHost = func(_ context.Context, host string) ([]string, error) {
				// The port comes from the URL; the hook gives the IP.
				if _, err := hostAddr(host, ports); err != nil {
					return nil, err
				}
				return []string{"127.0.0.1"}, nil
			}
		}
		cfg.DisableTLSSessionCache = o.noSessCache
		cfg.MaxConcurrentHandshakes = o.handshakes
		c := asynchttp.New(cfg)
		return &testClient{
			get: func(ctx context.Context, url string) error {
				req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
				defer asynchttp.ReleaseRequest(req)
				defer asynchttp.ReleaseResponse(resp)
				req.SetRequestURI(url)
				if err := c.Do(ctx, req, resp); err != nil {
					return err
				}
				if resp.StatusCode != 200 || string(resp.Body()) != bodyWant {
					return fmt.Errorf("status %d body %q", resp.StatusCode, resp.Body())
				}
				return nil
			},
			closeIdle: c.CloseIdleConnections,
			close:     func() { c.Close() },
		}, nil
	case cNet:
		tr := &http.Transport{MaxIdleConnsPerHost: o.maxIdle, IdleConnTimeout: idle, TLSClientConfig: tcfg, DisableKeepAlives: o.noKeepAlive}
		if o.zero {
			// DefaultTransport's settings (100 idle in total, 90 s).
			tr = http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = tcfg
		}
		if o.idleCap > 0 {
			tr.MaxIdleConns = o.idleCap
		}
		if o.ports != nil {
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				a, err := mapAddr(addr)
				if err != nil {
					return nil, err
				}
				return dialer.DialContext(ctx, network, a)
			}
		}
		hc := &http.Client{Transport: tr}
		return &testClient{
			get: func(ctx context.Context, url string) error {
				req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
				if err != nil {
					return err
				}
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return err
				}
				if resp.StatusCode != 200 || string(b) != bodyWant {
					return fmt.Errorf("status %d body %q", resp.StatusCode, b)
				}
				return nil
			},
			closeIdle: tr.CloseIdleConnections,
			close:     tr.CloseIdleConnections,
		}, nil
	case cFast:
		fc := &fasthttp.Client{MaxConnsPerHost: max(o.maxIdle, 512), MaxIdleConnDuration: idle, TLSConfig: tcfg, MaxConnWaitTimeout: 30 * time.Second}
		if o.ports != nil {
			fc.Dial = func(addr string) (net.Conn, error) {
				a, err := mapAddr(addr)
				if err != nil {
					return nil, err
				}
				return dialer.Dial("tcp", a)
			}
		}
		return &testClient{
			get: func(ctx context.Context, url string) error {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.SetRequestURI(url)
				if o.noKeepAlive {
					req.SetConnectionClose()
				}
				if err := fc.DoTimeout(req, resp, 5*time.Minute+30*time.Second); err != nil {
					return err
				}
				if resp.StatusCode() != 200 || string(resp.Body()) != bodyWant {
					return fmt.Errorf("status %d body %q", resp.StatusCode(), resp.Body())
				}
				return nil
			},
			closeIdle: fc.CloseIdleConnections,
			close:     fc.CloseIdleConnections,
		}, nil
	}
	return nil, fmt.Errorf("unknown client %q", o.name)
}

func splitFields(s string) []string { return strings.Fields(s) }
