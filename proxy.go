// Proxies: plain HTTP proxying for http:// targets, CONNECT tunnels for
// https:// ones, SOCKS5, and ProxyFromEnvironment.

package asynchttp

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/http/httpproxy"
	"golang.org/x/net/proxy"
)

// ProxyFromEnvironment chooses a proxy from the HTTP_PROXY, HTTPS_PROXY
// and NO_PROXY environment variables (and their lower-case forms), as read
// once at the first call, with the rules of golang.org/x/net/http/httpproxy:
// requests to localhost and loopback addresses are never proxied. Use it as
// Config.Proxy.
func ProxyFromEnvironment(req *http.Request) (*url.URL, error) {
	envProxy.mu.Lock()
	if envProxy.f == nil {
		envProxy.f = httpproxy.FromEnvironment().ProxyFunc()
	}
	f := envProxy.f
	envProxy.mu.Unlock()
	return f(req.URL)
}

// envProxy is the proxy choice read from the environment at first use.
var envProxy struct {
	mu sync.Mutex
	f  func(*url.URL) (*url.URL, error)
}

// chooseProxy asks Config.Proxy where req goes. hreq, when not nil, is the
// request as RoundTrip received it; for Do a minimal one is made.
func (c *Client) chooseProxy(req *Request, hreq *http.Request) error {
	if c.cfg.Proxy == nil {
		return nil
	}
	if hreq == nil {
		scheme := "http"
		if req.isTLS() {
			scheme = "https"
		}
		hreq = &http.Request{
			Method: req.Method(),
			URL:    &url.URL{Scheme: scheme, Host: req.dialAddr()},
			Host:   req.hostHeader,
			Header: make(http.Header),
		}
	}
	pu, err := c.cfg.Proxy(hreq)
	if err != nil {
		return fmt.Errorf("asynchttp: choosing a proxy: %w", err)
	}
	if pu == nil {
		return nil
	}
	switch pu.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return &RequestError{Field: "proxy", Reason: fmt.Sprintf("unsupported proxy scheme %q", pu.Scheme)}
	}
	if pu.Host == "" {
		return &RequestError{Field: "proxy", Reason: "no host in proxy URL"}
	}
	req.proxy = pu
	return nil
}

// proxyKey is the suffix of a host key for conns through proxy pu: the
// proxy, with its credentials, is part of the key, so such conns never
// serve a direct request, nor one meant for other proxy credentials. The
// password shows only as a hash (the key appears in Stats).
func proxyKey(pu *url.URL) string {
	k := " via " + pu.Scheme + "://" + pu.Host
	if pu.User != nil {
		pass, _ := pu.User.Password()
		h := fnv.New64a()
		h.Write([]byte(pu.User.Username() + ":" + pass))
		k += " as " + pu.User.Username() + "#" + strconv.FormatUint(h.Sum64(), 36)
	}
	return k
}

// proxyAddr is the proxy's "host:port", with the scheme's default port.
func proxyAddr(pu *url.URL) string {
	if pu.Port() != "" {
		return pu.Host
	}
	port := "80"
	switch pu.Scheme {
	case "https":
		port = "443"
	case "socks5", "socks5h":
		port = "1080"
	}
	return net.JoinHostPort(pu.Hostname(), port)
}

// basicAuth returns "Basic ..." for the user info of pu, or "".
func basicAuth(pu *url.URL) string {
	if pu.User == nil {
		return ""
	}
	pass, _ := pu.User.Password()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(pu.User.Username()+":"+pass))
}

// dialProxied opens the TCP (or tunnel) connection to t through its
// proxy: for a SOCKS5 proxy, a SOCKS connection to the target; for an
// HTTP(S) proxy, a connection to the proxy, with a CONNECT tunnel to the
// target when the target is https. TLS to the target is up to the caller.
func (d *dialer) dialProxied(ctx context.Context, t *dialTarget, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (net.Conn, error) {
	pu := t.proxy
	switch pu.Scheme {
	case "socks5", "socks5h":
		var auth *proxy.Auth
		if pu.User != nil {
			pass, _ := pu.User.Password()
			auth = &proxy.Auth{User: pu.User.Username(), Password: pass}
		}
		sd, err := proxy.SOCKS5("tcp", proxyAddr(pu), auth, ctxDialer(dial))
		if err != nil {
			return nil, err
		}
		return sd.(proxy.ContextDialer).DialContext(ctx, "tcp", t.addr)
	}
	nc, err := dial(ctx, "tcp", proxyAddr(pu))
	if err != nil {
		return nil, err
	}
	if pu.Scheme == "https" {
		tc, err := d.handshake(ctx, nc, d.newTLSConfig(pu.Hostname()))
		if err != nil {
			return nil, fmt.Errorf("proxy %s: %w", pu.Host, err)
		}
		nc = tc
	}
	if !t.tls {
		return nc, nil // plain HTTP proxying: requests go in absolute-form
	}
	if err := d.connect(ctx, nc, t); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

// connect asks an HTTP proxy for a tunnel to t (CONNECT host:port).
func (d *dialer) connect(ctx context.Context, nc net.Conn, t *dialTarget) error {
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
		defer nc.SetDeadline(noDeadline)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	defer stop()
	var b strings.Builder
	b.WriteString("CONNECT " + t.addr + " HTTP/1.1\r\nHost: " + t.addr + "\r\n")
	if auth := basicAuth(t.proxy); auth != "" {
		b.WriteString("Proxy-Authorization: " + auth + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := nc.Write([]byte(b.String())); err != nil {
		return fmt.Errorf("proxy %s: CONNECT: %w", t.proxy.Host, err)
	}
	br := bufio.NewReaderSize(nc, 1024)
	resp := AcquireResponse()
	defer ReleaseResponse(resp)
	if _, err := readResponseHead(br, resp, d.lim.maxHeader, true, nil); err != nil {
		if ctx.Err() != nil {
			return ctxErr(ctx, "proxy CONNECT")
		}
		return fmt.Errorf("proxy %s: CONNECT: %w", t.proxy.Host, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &ProxyError{Proxy: t.proxy.Host, StatusCode: resp.StatusCode, Status: resp.Reason()}
	}
	if br.Buffered() > 0 {
		return &ProtocolError{What: "bytes after the proxy's CONNECT response"}
	}
	return nil
}

// ProxyError reports a proxy that refused a CONNECT tunnel.
type ProxyError struct {
	Proxy      string // host:port of the proxy
	StatusCode int    // e.g. 407 Proxy Authentication Required
	Status     string
}

func (e *ProxyError) Error() string {
	return fmt.Sprintf("asynchttp: proxy %s refused CONNECT: %d %s", e.Proxy, e.StatusCode, e.Status)
}

// ctxDialer adapts a dial func to golang.org/x/net/proxy's dialers.
type ctxDialer func(ctx context.Context, network, addr string) (net.Conn, error)

func (d ctxDialer) Dial(network, addr string) (net.Conn, error) {
	return d(context.Background(), network, addr)
}

func (d ctxDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d(ctx, network, addr)
}
