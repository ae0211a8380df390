// MaxConcurrentHandshakes: TLS handshakes in flight across the Client stay
// under the cap (by default too), a connection waits for a slot after its
// TCP connect, and the wait ends with the caller's context or with
// TLSHandshakeTimeout.

package asynchttp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedTLSServer serves HTTPS over net.Pipe (so that it runs inside a
// synctest bubble). It counts the ClientHellos that arrived and holds
// each handshake until a token on release lets one go on, or open is
// closed.
type gatedTLSServer struct {
	cfg     *tls.Config
	release chan struct{}
	open    chan struct{}
	stop    chan struct{} // closed at the end of the test: held handshakes give up

	mu     sync.Mutex
	hellos int
}

// newGatedTLSServer makes the server and the client's TLS config that
// trusts it. The certificate is valid from 1999: synctest's clock starts
// in 2000.
func newGatedTLSServer(t *testing.T) (*gatedTLSServer, *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gated.test"},
		DNSNames:              []string{"gated.test"},
		NotBefore:             time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	s := &gatedTLSServer{
		release: make(chan struct{}),
		open:    make(chan struct{}),
		stop:    make(chan struct{}),
	}
	s.cfg = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, GetConfigForClient: s.hello}
	t.Cleanup(func() { close(s.stop) })
	return s, &tls.Config{RootCAs: roots, ServerName: "gated.test"}
}

func (s *gatedTLSServer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	p := pipeServer{serve: s.serve}
	return p.dial(ctx, network, addr)
}

func (s *gatedTLSServer) serve(nc net.Conn) {
	tc := tls.Server(nc, s.cfg)
	if err := tc.Handshake(); err != nil {
		return
	}
	serveOK(nil)(tc)
}

// hello counts a ClientHello that arrived and holds its handshake until
// the test lets it go on (tls.Config.GetConfigForClient).
func (s *gatedTLSServer) hello(*tls.ClientHelloInfo) (*tls.Config, error) {
	s.mu.Lock()
	s.hellos++
	s.mu.Unlock()
	select {
	case <-s.release:
	case <-s.open:
	case <-s.stop:
		return nil, errors.New("test over")
	}
	return nil, nil // the server's own config
}

// helloCount returns the ClientHellos received.
func (s *gatedTLSServer) helloCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hellos
}

func TestMaxConcurrentHandshakesCapsHandshakesAcrossHosts(t *testing.T) {
	for _, how := range ways {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv, tc := newGatedTLSServer(t)
				c := asynchttp.New(asynchttp.Config{Dial: srv.dial, TLSConfig: tc, MaxConcurrentHandshakes: 2})
				defer c.Close()
				var wg sync.WaitGroup
				for i := range 6 {
					wg.Go(func() {
						assert.NoError(t, sendVia(t.Context(), c, how, fmt.Sprintf("https://10.255.0.%d/", i+1)))
					})
				}
				synctest.Wait()
				assert.Equal(t, 2, srv.helloCount(), "two handshakes start, four connections wait for a slot")
				// Each handshake that ends lets one more start.
				for k := range 4 {
					srv.release <- struct{}{}
					synctest.Wait()
					assert.Equal(t, 3+k, srv.helloCount())
				}
				close(srv.open)
				wg.Wait()
				assert.Equal(t, 6, srv.helloCount())
				st := c.Stats()
				assert.Equal(t, uint64(4), st.HandshakeWaits)
				assert.Equal(t, 6, st.Open)
				assert.Zero(t, st.DialWaits, "TCP connects are not capped by it")
			})
		})
	}
}

func TestHandshakesAreCappedByDefaultPerCPU(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cpus      int
		max       int // Config.MaxConcurrentHandshakes
		want      int // handshakes that start at once
		unlimited bool
	}{
		{name: "4 CPUs: 4×128", cpus: 4, want: 4 * asynchttp.DefaultHandshakesPerCPU},
		{name: "1 CPU: the floor, not 128", cpus: 1, want: asynchttp.MinDefaultHandshakes},
		{name: "negative: no cap", cpus: 1, max: -1, unlimited: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.cpus))
			synctest.Test(t, func(t *testing.T) {
				srv, tlsCfg := newGatedTLSServer(t)
				c := asynchttp.New(asynchttp.Config{Dial: srv.dial, TLSConfig: tlsCfg, MaxConcurrentHandshakes: tc.max})
				defer c.Close()
				n := max(tc.want, asynchttp.MinDefaultHandshakes) + 3
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						assert.NoError(t, sendVia(t.Context(), c, "Do", fmt.Sprintf("https://10.%d.%d.%d/", i>>16&255, i>>8&255, i&255)))
					})
				}
				synctest.Wait()
				if tc.unlimited {
					assert.Equal(t, n, srv.helloCount())
				} else {
					assert.Equal(t, tc.want, srv.helloCount())
					srv.release <- struct{}{}
					synctest.Wait()
					assert.Equal(t, tc.want+1, srv.helloCount(), "a handshake that ends lets one more start")
				}
				close(srv.open)
				wg.Wait()
				waits := uint64(n - tc.want) // the callers past the cap
				if tc.unlimited {
					waits = 0
				}
				assert.Equal(t, waits, c.Stats().HandshakeWaits)
			})
		})
	}
}

func TestAWaitForAHandshakeSlotEndsWithTheContextOrTheHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, tc := newGatedTLSServer(t)
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, TLSConfig: tc, MaxConcurrentHandshakes: 1, TLSHandshakeTimeout: 5 * time.Second})
		defer c.Close()
		first := make(chan error, 1)
		go func() { first <- sendVia(t.Context(), c, "Do", "https://10.255.0.1/") }()
		synctest.Wait()

		// The caller gives up while waiting for a slot.
		ctx, cancel := context.WithCancel(t.Context())
		second := make(chan error, 1)
		go func() { second <- sendVia(ctx, c, "RoundTrip", "https://10.255.0.2/") }()
		synctest.Wait()
		cancel()
		require.ErrorIs(t, <-second, context.Canceled)
		assert.Zero(t, c.Stats().Hosts["https://10.255.0.2:443"].Open, "the canceled caller's connection is closed")

		// The wait counts in TLSHandshakeTimeout: a connection dialed at
		// 1 s waits for the slot until the first handshake times out (at
		// 5 s), then its own handshake is held too, and it fails at 6 s:
		// 5 s after it started, not 5 s after it got the slot.
		time.Sleep(time.Second)
		start := time.Now()
		err := sendVia(t.Context(), c, "Do", "https://10.255.0.3/")
		var te *asynchttp.TimeoutError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, 5*time.Second, time.Since(start))
		require.Error(t, <-first, "the held handshake timed out")
		assert.Equal(t, 2, srv.helloCount(), "the canceled caller sent no ClientHello")

		close(srv.open)
		require.NoError(t, sendVia(t.Context(), c, "Do", "https://10.255.0.2/"), "the slots were given back")
		assert.Equal(t, 1, c.Stats().Open, "one open connection: the last one")
	})
}
