// TLS session resumption: on by default (a cache per Client), off with
// DisableTLSSessionCache, a TLSConfig's own cache used as it is; the
// caller's TLSConfig is never changed.

package asynchttp_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resumingServer is an HTTPS server on 127.0.0.1 whose answer says
// whether the connection's handshake resumed a session.
func resumingServer(t *testing.T) (*httptest.Server, *x509.CertPool) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.TLS.DidResume)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return srv, roots
}

// resumptions sends n requests, each on a new connection, and returns
// what the server said of each handshake.
func resumptions(t *testing.T, c *asynchttp.Client, url string, n int) []string {
	var out []string
	for range n {
		code, body, err := get(testCtx(t), c, "GET", url)
		require.NoError(t, err)
		require.Equal(t, 200, code)
		out = append(out, body)
	}
	return out
}

func TestNewConnectionsResumeTLSSessionsByDefault(t *testing.T) {
	srv, roots := resumingServer(t)
	tc := &tls.Config{RootCAs: roots}
	c := newClient(t, asynchttp.Config{TLSConfig: tc, MaxIdleConnsPerHost: -1}) // every request dials
	assert.Equal(t, []string{"false", "true", "true", "true"}, resumptions(t, c, srv.URL+"/", 4))
	assert.Equal(t, uint64(4), c.Stats().Created)
	assert.Nil(t, tc.ClientSessionCache, "the caller's TLSConfig is not changed")
	assert.Empty(t, tc.ServerName)
	assert.Nil(t, tc.NextProtos)
}

func TestDisableTLSSessionCacheMakesEveryHandshakeFull(t *testing.T) {
	srv, roots := resumingServer(t)
	c := newClient(t, asynchttp.Config{TLSConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: -1, DisableTLSSessionCache: true})
	assert.Equal(t, []string{"false", "false", "false"}, resumptions(t, c, srv.URL+"/", 3))
}

// countingCache is a ClientSessionCache that counts its use.
type countingCache struct {
	tls.ClientSessionCache
	puts int
}

func (c *countingCache) Put(key string, cs *tls.ClientSessionState) {
	c.puts++
	c.ClientSessionCache.Put(key, cs)
}

func TestATLSConfigsOwnSessionCacheIsUsed(t *testing.T) {
	srv, roots := resumingServer(t)
	cache := &countingCache{ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	c := newClient(t, asynchttp.Config{TLSConfig: &tls.Config{RootCAs: roots, ClientSessionCache: cache}, MaxIdleConnsPerHost: -1})
	assert.Equal(t, []string{"false", "true"}, resumptions(t, c, srv.URL+"/", 2))
	assert.Greater(t, cache.puts, 0)
}
