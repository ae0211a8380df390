package asynchttpprom_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpprom"
	"github.com/prometheus/client_golang/prometheus"
)

// One request leaves one idle connection; the collector reads it from
// Stats at scrape time.
func ExampleNewCollector() {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	c := asynchttp.New(asynchttp.Config{MaxConnsPerHost: 4})
	defer c.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(asynchttpprom.NewCollector(c, asynchttpprom.WithoutHostLabel()))

	req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetRequestURI(srv.URL)
	if err := c.Do(context.Background(), req, resp); err != nil {
		fmt.Println(err)
		return
	}

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		switch mf.GetName() {
		case "asynchttp_connections_open", "asynchttp_connections_idle":
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetGauge().GetValue())
		case "asynchttp_connections_created_total":
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	// Output:
	// asynchttp_connections_created_total 1
	// asynchttp_connections_idle 1
	// asynchttp_connections_open 1
}
