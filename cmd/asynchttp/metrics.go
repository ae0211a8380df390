// -metrics ADDR: the pool's figures for Prometheus at http://ADDR/metrics
// while crawl or bench runs.

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveMetrics serves c's Stats (asynchttpprom's collector) on addr at
// /metrics until stop is called. An empty addr serves nothing.
func serveMetrics(addr string, c *asynchttp.Client, stderr io.Writer) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(asynchttpprom.NewCollector(c)); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "asynchttp: -metrics: %v\n", err)
		}
	}()
	fmt.Fprintf(stderr, "metrics at http://%s/metrics\n", ln.Addr())
	return func() {
		srv.Close()
		<-done
	}, nil
}
