// The host-policy figures of Stats as metrics: the cap in force, waits
// for rate and delay, and the dial-slot waits.

package asynchttpprom_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPolicyFiguresAreExported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	host := "http://" + strings.TrimPrefix(srv.URL, "http://")
	c := asynchttp.New(asynchttp.Config{MaxConcurrentDials: 4})
	defer c.Close()
	require.NoError(t, c.SetHostPolicy(host, asynchttp.HostPolicy{MaxConns: 3, Delay: 200 * time.Millisecond}))
	for range 3 {
		get(t, c, srv.URL+"/")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(asynchttpprom.NewCollector(c))
	mf := scrape(t, reg)
	key := host
	st := c.Stats()
	require.Contains(t, st.Hosts, key)
	assert.Equal(t, 3.0, byHost(mf["asynchttp_connection_limit"])[key])
	assert.Equal(t, 2.0, byHost(mf["asynchttp_policy_waits_total"])[key], "the 2nd and 3rd requests waited for the delay")
	assert.Greater(t, byHost(mf["asynchttp_policy_wait_seconds_total"])[key], 0.0)
	assert.Zero(t, byHost(mf["asynchttp_policy_refusals_total"])[key])
	assert.Zero(t, byHost(mf["asynchttp_over_limit_dials_total"])[key])
	require.Contains(t, mf, "asynchttp_dial_waits_total")
	require.Contains(t, mf, "asynchttp_dial_wait_seconds_total")
	require.Contains(t, mf, "asynchttp_handshake_waits_total")
	require.Contains(t, mf, "asynchttp_handshake_wait_seconds_total")
}
