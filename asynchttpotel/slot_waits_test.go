// ObserveStats reports the Client's waits for a dial slot
// (MaxConcurrentDials) and a handshake slot (MaxConcurrentHandshakes).

package asynchttpotel_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpotel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// heldTLSServer serves HTTPS over net.Pipe (so that it runs inside a
// synctest bubble) and holds every handshake until a token on release
// lets it go on. It
// has httptest's certificate, valid from 1970 to 2084 (synctest's clock
// starts in 2000), for example.com.
type heldTLSServer struct {
	cfg     *tls.Config
	release chan struct{}
}

// newHeldTLSServer makes the server and the client's TLS config that
// trusts it. Its channel must be made inside the bubble, so the
// certificate is taken before (httptestCert).
func newHeldTLSServer(cert tls.Certificate, roots *x509.CertPool) (*heldTLSServer, *tls.Config) {
	s := &heldTLSServer{release: make(chan struct{})}
	s.cfg = &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			<-s.release
			return nil, nil
		},
	}
	return s, &tls.Config{RootCAs: roots, ServerName: "example.com"}
}

// httptestCert returns httptest's certificate and a pool that trusts it.
func httptestCert() (tls.Certificate, *x509.CertPool) {
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS() // only for its certificate
	cert, leaf := hs.TLS.Certificates[0], hs.Certificate()
	hs.Close()
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return cert, roots
}

func (s *heldTLSServer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	cc, sc := net.Pipe()
	go s.serve(sc)
	return cc, nil
}

// serve answers every request on nc with 200 "ok" until nc fails.
func (s *heldTLSServer) serve(nc net.Conn) {
	defer nc.Close()
	tc := tls.Server(nc, s.cfg)
	br := bufio.NewReader(tc)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		if _, err := io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

func TestObserveStatsReportsTheClientsDialAndHandshakeWaits(t *testing.T) {
	cert, roots := httptestCert()
	synctest.Test(t, func(t *testing.T) {
		srv, tc := newHeldTLSServer(cert, roots)
		mp := newMeterProvider(t)
		// Two dials in flight at most, one handshake. Of three new
		// connections, A handshakes (held by the server), B waits for
		// the handshake slot and C for a dial slot. A's handshake ends
		// at 1 s: B gets the handshake slot (1 s waited), C a dial slot
		// (1 s) and then waits for the handshake slot until B's ends at
		// 4 s (3 s). Dial waits: 1, 1 s; handshake waits: 2, 4 s.
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, TLSConfig: tc, MaxConcurrentDials: 2, MaxConcurrentHandshakes: 1})
		defer c.Close()
		unregister, err := asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(mp))
		require.NoError(t, err)
		defer unregister()

		got := mp.collect(t)
		for _, name := range []string{asynchttpotel.DialWaitsName, asynchttpotel.HandshakeWaitsName} {
			assert.Zero(t, intSum(t, got, name), "%s before any wait", name)
		}
		for _, name := range []string{asynchttpotel.DialWaitTimeName, asynchttpotel.HandshakeWaitTimeName} {
			assert.Zero(t, floatSum(t, got, name), "%s before any wait", name)
		}

		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				code, err := do(t.Context(), c, "GET", fmt.Sprintf("https://10.255.0.%d/", i+1))
				assert.NoError(t, err)
				assert.Equal(t, 200, code)
			})
		}
		synctest.Wait()
		time.Sleep(1 * time.Second) // the fake clock
		srv.release <- struct{}{}   // A's handshake ends
		synctest.Wait()
		time.Sleep(3 * time.Second)
		srv.release <- struct{}{} // B's
		srv.release <- struct{}{} // C's
		wg.Wait()

		st := c.Stats()
		got = mp.collect(t)
		assert.Equal(t, int64(1), intSum(t, got, asynchttpotel.DialWaitsName), "C waited for a dial slot")
		assert.Equal(t, int64(st.DialWaits), intSum(t, got, asynchttpotel.DialWaitsName))
		assert.Equal(t, 1.0, floatSum(t, got, asynchttpotel.DialWaitTimeName))
		assert.Equal(t, st.DialWaitTime.Seconds(), floatSum(t, got, asynchttpotel.DialWaitTimeName))
		assert.Equal(t, int64(2), intSum(t, got, asynchttpotel.HandshakeWaitsName), "B and C waited for the handshake slot")
		assert.Equal(t, int64(st.HandshakeWaits), intSum(t, got, asynchttpotel.HandshakeWaitsName))
		assert.Equal(t, 4.0, floatSum(t, got, asynchttpotel.HandshakeWaitTimeName))
		assert.Equal(t, st.HandshakeWaitTime.Seconds(), floatSum(t, got, asynchttpotel.HandshakeWaitTimeName))
	})
}

// intSum and floatSum return the one point of the sum name: a monotonic
// counter with no attributes.
func intSum(t *testing.T, got collected, name string) int64 {
	t.Helper()
	return onePoint[int64](t, got, name)
}

func floatSum(t *testing.T, got collected, name string) float64 {
	t.Helper()
	return onePoint[float64](t, got, name)
}

func onePoint[N int64 | float64](t *testing.T, got collected, name string) N {
	t.Helper()
	m, ok := got[name]
	require.True(t, ok, name)
	s, ok := m.Data.(metricdata.Sum[N])
	require.True(t, ok, "%s: %T", name, m.Data)
	require.Len(t, s.DataPoints, 1, name)
	require.Zero(t, s.DataPoints[0].Attributes.Len(), name)
	assert.True(t, s.IsMonotonic, name)
	return s.DataPoints[0].Value
}
