// Command server is the benchmark server on its own: fasthttp with
// GOMAXPROCS=1 on -ports ports of 127.0.0.1. It prints one JSON line with
// the control address and the ports, serves GET /stats and GET /reset on
// the control address, and prints the connection counts at exit (SIGINT,
// SIGTERM or -for elapsed).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/asynchttp/asynchttp/bench/internal/server"
)

func main() {
	ports := flag.Int("ports", 64, "number of ports to listen on (127.0.0.1)")
	dur := flag.Duration("for", time.Hour, "exit after this long")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	s, err := server.Start(*ports)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(s.Info())
	fmt.Println(string(b))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-sig:
	case <-time.After(*dur):
	}
	st, _ := json.Marshal(s.Snapshot())
	fmt.Println(string(st))
	s.Close()
}
