package asynchttpprom_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, c *asynchttp.Client, url string) {
	t.Helper()
	req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Do(ctx, req, resp))
}

func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	r, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer r.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(r.Body)
	require.NoError(t, err)
	return mf
}

func byHost(mf *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		host := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "host" {
				host = l.GetValue()
			}
		}
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		out[host] += v
	}
	return out
}

// With a cap of 2 and 5 hosts, 2 hosts get their own series and "other"
// holds the rest, so the series sum to the pool totals.
func TestHostCapSumsToTotals(t *testing.T) {
	var urls []string
	for range 5 {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer s.Close()
		urls = append(urls, s.URL)
	}
	c := asynchttp.New(asynchttp.Config{MaxConnsPerHost: 2})
	defer c.Close()
	for _, u := range urls {
		for range 3 {
			get(t, c, u)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(asynchttpprom.NewCollector(c, asynchttpprom.WithMaxHosts(2)))
	mf := scrape(t, reg)
	st := c.Stats()
	created := byHost(mf["asynchttp_connections_created_total"])
	require.Len(t, created, 3)
	require.Contains(t, created, "other")
	var sum float64
	for h, v := range created {
		sum += v
		if h != "other" {
			require.Equal(t, float64(st.Hosts[h].Created), v)
		}
	}
	require.Equal(t, float64(st.Created), sum)
	reused := byHost(mf["asynchttp_connections_reused_total"])
	sum = 0
	for _, v := range reused {
		sum += v
	}
	require.Equal(t, float64(st.Reused), sum)
	open := byHost(mf["asynchttp_connections_idle"])
	sum = 0
	for _, v := range open {
		sum += v
	}
	require.Equal(t, float64(st.Idle), sum)

	// Counters never go backwards across scrapes, after more traffic and
	// after idle connections are closed.
	c.CloseIdleConnections()
	for _, u := range urls {
		get(t, c, u)
	}
	mf2 := scrape(t, reg)
	for _, name := range []string{"asynchttp_connections_created_total", "asynchttp_connections_reused_total"} {
		after := byHost(mf2[name])
		for h, v := range byHost(mf[name]) {
			require.GreaterOrEqual(t, after[h], v, "%s{host=%q}", name, h)
		}
	}
	closed := byHost(mf2["asynchttp_connections_closed_total"])
	sum = 0
	for _, v := range closed {
		sum += v
	}
	require.Equal(t, float64(c.Stats().Closed), sum)
}

func TestCollectAndLintClean(t *testing.T) {
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	problems, err := testutil.CollectAndLint(asynchttpprom.NewCollector(c))
	require.NoError(t, err)
	require.Empty(t, problems)
	problems, err = testutil.CollectAndLint(asynchttpprom.NewCollector(c, asynchttpprom.WithoutHostLabel()))
	require.NoError(t, err)
	require.Empty(t, problems)
}

// Requests held in flight by a blocking handler show as in_use, and a
// caller over MaxConnsPerHost shows as a waiting caller, matching Stats.
func TestInUseAndWaitingMatchStats(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 4)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer s.Close()
	c := asynchttp.New(asynchttp.Config{MaxConnsPerHost: 1})
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(asynchttpprom.NewCollector(c))

	done := make(chan struct{}, 2)
	for range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetRequestURI(s.URL)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.Do(ctx, req, resp)
		}()
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no request arrived")
	}
	// Wait (bounded) until the second caller is queued behind the cap.
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Waiting != 1 {
		require.True(t, time.Now().Before(deadline), "second caller never waited")
		time.Sleep(time.Millisecond)
	}
	mf := scrape(t, reg)
	st := c.Stats()
	require.Equal(t, 1, st.InUse)
	require.Equal(t, float64(st.InUse), byHost(mf["asynchttp_connections_in_use"])[onlyHost(t, st)])
	require.Equal(t, float64(st.Waiting), byHost(mf["asynchttp_waiting_callers"])[onlyHost(t, st)])
	close(release)
	for range 2 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("request did not finish")
		}
	}
}

func onlyHost(t *testing.T, st asynchttp.Stats) string {
	t.Helper()
	require.Len(t, st.Hosts, 1)
	for h := range st.Hosts {
		return h
	}
	return ""
}
