// Proxies: plain HTTP proxying, CONNECT tunnels, SOCKS5 and
// ProxyFromEnvironment, each through a small proxy of the test's own on
// 127.0.0.1. Host names like "app.test" are never resolved by the client:
// the proxy maps them to the test's servers.

package asynchttp_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// httpProxy is an HTTP proxy: absolute-form requests are answered by the
// proxy itself (saying what it saw); CONNECT tunnels go to target.
type httpProxy struct {
	srv      *testserver.Counting
	target   string // where CONNECT tunnels lead, whatever host is asked
	auth     string // required Proxy-Authorization, if set
	connects atomic.Int32
	tunnels  sync.WaitGroup
}

func newHTTPProxy(t *testing.T, target, auth string) *httpProxy {
	p := &httpProxy{target: target, auth: auth}
	p.srv = testserver.NewCounting(t, p)
	t.Cleanup(p.tunnels.Wait)
	return p
}

func (p *httpProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.auth != "" && r.Header.Get("Proxy-Authorization") != p.auth {
		w.WriteHeader(http.StatusProxyAuthRequired)
		return
	}
	if r.Method != http.MethodConnect {
		fmt.Fprintf(w, "proxied %s %s host=%s", r.Method, r.RequestURI, r.Host)
		return
	}
	p.connects.Add(1)
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	w.WriteHeader(200)
	w.(http.Flusher).Flush()
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.tunnels.Add(2)
	go func() {
		defer p.tunnels.Done()
		copyNoSplice(up, brw)
		up.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer p.tunnels.Done()
		copyNoSplice(nc, up)
		nc.Close()
		up.Close()
	}()
}

// copyNoSplice copies without splice(2): io.Copy between TCP conns keeps
// pipes in the runtime's pool, which the fd leak check would count.
func copyNoSplice(dst io.Writer, src io.Reader) {
	io.Copy(struct{ io.Writer }{dst}, struct{ io.Reader }{src})
}

func fixedProxy(u string) func(*http.Request) (*url.URL, error) {
	pu, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	return func(*http.Request) (*url.URL, error) { return pu, nil }
}

func TestPlainHTTPProxyPoolsConnsPerProxyUser(t *testing.T) {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	p := newHTTPProxy(t, "", auth)
	c := newClient(t, asynchttp.Config{Proxy: fixedProxy("http://alice:s3cret@" + p.srv.Addr())})
	ctx := testCtx(t)
	for range 3 {
		code, body, err := get(ctx, c, "GET", "http://app.test/path?q=1")
		require.NoError(t, err)
		assert.Equal(t, 200, code)
		assert.Equal(t, "proxied GET http://app.test/path?q=1 host=app.test", body)
	}
	assert.Equal(t, 1, p.srv.Accepted(), "conns to the proxy are pooled")
	st := c.Stats()
	require.Len(t, st.Hosts, 1)
	for key := range st.Hosts {
		assert.True(t, strings.HasPrefix(key, "http://app.test:80 via http://"+p.srv.Addr()+" as alice#"),
			"the proxy and its user are part of the host key: %q", key)
		assert.NotContains(t, key, "s3cret", "never the password")
	}

	// Through RoundTrip too.
	resp, body := httpGet(t, &http.Client{Transport: c}, "http://app.test/rt")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "proxied GET http://app.test/rt host=app.test", body)

	// Wrong credentials: the proxy's 407 is the response.
	bad := newClient(t, asynchttp.Config{Proxy: fixedProxy("http://alice:wrong@" + p.srv.Addr())})
	code, _, err := get(ctx, bad, "GET", "http://app.test/")
	require.NoError(t, err)
	assert.Equal(t, http.StatusProxyAuthRequired, code)
}

func tlsTarget(t *testing.T) (*httptest.Server, *x509.CertPool) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls host=%s", r.Host)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return srv, roots
}

func TestConnectTunnelIsReusedAndChecksCredentials(t *testing.T) {
	target, roots := tlsTarget(t)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:pw"))
	p := newHTTPProxy(t, target.Listener.Addr().String(), auth)
	c := newClient(t, asynchttp.Config{
		Proxy:     fixedProxy("http://bob:pw@" + p.srv.Addr()),
		TLSConfig: &tls.Config{RootCAs: roots}, // the test cert is for example.com
	})
	ctx := testCtx(t)
	for range 3 {
		code, body, err := get(ctx, c, "GET", "https://example.com/secret")
		require.NoError(t, err)
		assert.Equal(t, 200, code)
		assert.Equal(t, "tls host=example.com", body)
	}
	assert.Equal(t, int32(1), p.connects.Load(), "one tunnel, reused")

	bad := newClient(t, asynchttp.Config{
		Proxy: fixedProxy("http://bob:nope@" + p.srv.Addr()), TLSConfig: &tls.Config{RootCAs: roots},
	})
	_, _, err := get(ctx, bad, "GET", "https://example.com/")
	var pe *asynchttp.ProxyError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, http.StatusProxyAuthRequired, pe.StatusCode)
	assert.Zero(t, bad.Stats().Open)
	c.CloseIdleConnections() // end the tunnel before the proxy waits for it
}

// socks5 is a minimal SOCKS5 server (RFC 1928, no auth or user/password)
// that connects every request to target.
func socks5(t *testing.T, target string, user, pass string) (addr string, asked chan string) {
	asked = make(chan string, 16)
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(br, hdr); err != nil || hdr[0] != 5 {
			return
		}
		methods := make([]byte, hdr[1])
		io.ReadFull(br, methods)
		if user == "" {
			nc.Write([]byte{5, 0})
		} else {
			nc.Write([]byte{5, 2})
			b := make([]byte, 2)
			io.ReadFull(br, b)
			u := make([]byte, b[1])
			io.ReadFull(br, u)
			pl, _ := br.ReadByte()
			pw := make([]byte, pl)
			io.ReadFull(br, pw)
			if string(u) != user || string(pw) != pass {
				nc.Write([]byte{1, 1})
				return
			}
			nc.Write([]byte{1, 0})
		}
		req := make([]byte, 4)
		if _, err := io.ReadFull(br, req); err != nil || req[1] != 1 {
			return
		}
		var host string
		switch req[3] {
		case 1:
			ip := make([]byte, 4)
			io.ReadFull(br, ip)
			host = net.IP(ip).String()
		case 3:
			l, _ := br.ReadByte()
			name := make([]byte, l)
			io.ReadFull(br, name)
			host = string(name)
		default:
			return
		}
		pb := make([]byte, 2)
		io.ReadFull(br, pb)
		asked <- net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(pb))))
		up, err := net.Dial("tcp", target)
		if err != nil {
			nc.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		defer up.Close()
		nc.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
		done := make(chan struct{})
		go func() { copyNoSplice(up, br); up.(*net.TCPConn).CloseWrite(); close(done) }()
		copyNoSplice(nc, up)
		nc.Close()
		<-done
	})
	return srv.Addr(), asked
}

func TestSOCKS5ProxyResolvesNamesAndChecksCredentials(t *testing.T) {
	origin := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin host=%s path=%s", r.Host, r.URL.Path)
	}))
	addr, asked := socks5(t, origin.Addr(), "carol", "pw")
	c := newClient(t, asynchttp.Config{Proxy: fixedProxy("socks5://carol:pw@" + addr)})
	ctx := testCtx(t)
	for range 2 {
		_, body, err := get(ctx, c, "GET", "http://app.test:8080/p")
		require.NoError(t, err)
		assert.Equal(t, "origin host=app.test:8080 path=/p", body, "origin-form through SOCKS")
	}
	assert.Equal(t, "app.test:8080", <-asked, "the proxy resolves the name")
	assert.Equal(t, 1, origin.Accepted())
	c.CloseIdleConnections()

	bad := newClient(t, asynchttp.Config{Proxy: fixedProxy("socks5://carol:wrong@" + addr)})
	_, _, err := get(ctx, bad, "GET", "http://app.test:8080/p")
	require.Error(t, err)
	assert.Zero(t, bad.Stats().Open)
}

func TestProxyFromEnvironmentSkipsNoProxyAndLoopback(t *testing.T) {
	p := newHTTPProxy(t, "", "")
	t.Setenv("HTTP_PROXY", "http://"+p.srv.Addr())
	t.Setenv("NO_PROXY", "skip.test")
	asynchttp.ResetProxyEnv()
	t.Cleanup(asynchttp.ResetProxyEnv)
	direct := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	c := newClient(t, asynchttp.Config{Proxy: asynchttp.ProxyFromEnvironment})
	ctx := testCtx(t)
	_, body, err := get(ctx, c, "GET", "http://app.test/env")
	require.NoError(t, err)
	assert.Equal(t, "proxied GET http://app.test/env host=app.test", body)
	_, body, err = get(ctx, c, "GET", direct.URL())
	require.NoError(t, err)
	assert.Equal(t, "ok", body, "loopback is never proxied")
	assert.Equal(t, 1, direct.Accepted())
}

func TestBadProxyChoiceFailsTheRequest(t *testing.T) {
	boom := errors.New("no proxy for you")
	for _, tt := range []struct {
		name  string
		proxy func(*http.Request) (*url.URL, error)
		is    error
	}{
		{"error", func(*http.Request) (*url.URL, error) { return nil, boom }, boom},
		{"scheme", fixedProxy("ftp://127.0.0.1:21"), asynchttp.ErrInvalidRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{Proxy: tt.proxy})
			_, _, err := get(testCtx(t), c, "GET", "http://app.test/")
			require.ErrorIs(t, err, tt.is)
		})
	}
}

// Two requests to the same target through the same proxy with different
// credentials: the proxy URL's user info is part of the host key, so bob's
// request never goes out with alice's Proxy-Authorization, on her conn or
// through her CONNECT tunnel.
func TestProxyUserinfoIsPartOfTheHostKey(t *testing.T) {
	var paddr atomic.Value
	var n atomic.Int32
	c := newClient(t, asynchttp.Config{Proxy: func(*http.Request) (*url.URL, error) {
		user := "alice:pw1"
		if n.Add(1) > 1 {
			user = "bob:pw2"
		}
		return url.Parse("http://" + user + "@" + paddr.Load().(string))
	}})
	proxy := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Proxy-Authorization"))
	}))
	paddr.Store(proxy.Addr())
	ctx := testCtx(t)
	_, got1, err := get(ctx, c, "GET", "http://app.test/")
	require.NoError(t, err)
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:pw1")), got1)
	_, got2, err := get(ctx, c, "GET", "http://app.test/")
	require.NoError(t, err)
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("bob:pw2")), got2,
		"bob's request must not carry alice's proxy credentials")
}
