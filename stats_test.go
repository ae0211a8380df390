// Client.Stats: wait counts and times, and conn ages, per host and in total.

package asynchttp_test

import (
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatsReportWaitsAndConnAges(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	srv, g := holdServer(t)
	ctx := testCtx(t)
	held := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()+"/hold"); held <- err }()
	eventually(t, "held", func() bool { return g.inside.Load() == 1 })
	waited := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()); waited <- err }()
	eventually(t, "queued", func() bool { return c.Stats().Waiting == 1 })
	g.open()
	require.NoError(t, <-held)
	require.NoError(t, <-waited)
	st := c.Stats()
	h := st.Hosts[srv.URL()]
	assert.Equal(t, uint64(1), h.Waits)
	assert.Positive(t, h.WaitTime)
	assert.Equal(t, h.WaitTime, h.MaxWait)
	assert.Positive(t, h.OldestConn)
	assert.Equal(t, h.OldestConn, h.MeanConnAge, "one conn")
	assert.Equal(t, uint64(1), st.Waits)
}
