package asynchttp_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure "+r.Proto)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the bad-CA handshake below
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := newClient(t, asynchttp.Config{TLSConfig: &tls.Config{RootCAs: roots}})
	ctx := testCtx(t)
	for range 3 {
		code, body, err := get(ctx, c, "GET", srv.URL+"/")
		require.NoError(t, err)
		assert.Equal(t, 200, code)
		assert.Equal(t, "secure HTTP/1.1", body)
	}
	st := c.Stats()
	assert.Equal(t, uint64(1), st.Created)
	assert.Equal(t, uint64(2), st.Reused, "TLS conns pass the liveness check")

	// An unknown CA fails the handshake with a clear error.
	bad := newClient(t, asynchttp.Config{})
	_, _, err := get(ctx, bad, "GET", srv.URL+"/")
	var ue x509.UnknownAuthorityError
	require.ErrorAs(t, err, &ue)
	assert.Zero(t, bad.Stats().Open)
}
