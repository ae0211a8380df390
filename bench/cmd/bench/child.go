// The child process: one client, one scenario, a warm-up and a measured
// window; it prints one JSON line with its own CPU time (getrusage),
// allocations (runtime.MemStats) and latency quantiles for the window.

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynchttp/asynchttp/bench/internal/server"
)

// childResult is what a child reports for its measured window.
type childResult struct {
	Client     string  `json:"client"`
	Scenario   string  `json:"scenario"`
	Round      int     `json:"round"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	FirstErr   string  `json:"first_err,omitempty"`
	Seconds    float64 `json:"seconds"`
	UserUS     int64   `json:"user_us"`
	SysUS      int64   `json:"sys_us"`
	Mallocs    uint64  `json:"mallocs"`
	Bytes      uint64  `json:"bytes"`
	NumGC      uint32  `json:"num_gc"`
	P50NS      int64   `json:"p50_ns"`
	P99NS      int64   `json:"p99_ns"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Stuck      int     `json:"stuck,omitempty"` // workers still busy 10s after the window

	// Client-side counts (crawl only): most conns open at once to one host
	// and in total, from dial to Close, and the dials.
	ClientMaxHost  int   `json:"client_max_host,omitempty"`
	ClientMaxTotal int   `json:"client_max_total,omitempty"`
	Dials          int64 `json:"dials,omitempty"`

	// Filled in by the parent from the server's counts.
	Accepted int64 `json:"accepted"`
	MaxOpen  int64 `json:"max_open"`
	MaxPort  int64 `json:"max_port"`
	// CPUs used by other processes (and stolen by the hypervisor) while
	// the child ran: a noise indicator.
	OtherCPU float64 `json:"other_cpu"`
	StealCPU float64 `json:"steal_cpu"`
}

type workerStats struct {
	n, errs int64
	err     string
	h       hist
	_       [64]byte
}

const maxRequestsPerWorker = 50_000_000 // a bound besides time

func rusageUS() (user, sys int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return ru.Utime.Sec*1e6 + ru.Utime.Usec, ru.Stime.Sec*1e6 + ru.Stime.Usec
}

func runChild(clientName, scName string, inf server.Info, warmup, dur time.Duration, round int, cpuprofile, memprofile string) error {
	if memprofile != "" {
		// Every allocation sampled: slow, so the figures of such a run
		// are not comparable; for finding allocation sites only.
		runtime.MemProfileRate = 1
	}
	sc, ok := scenarioByName(scName)
	if !ok {
		return fmt.Errorf("unknown scenario %q", scName)
	}
	// A watchdog: whatever happens, this process ends.
	time.AfterFunc(warmup+dur+30*time.Second, func() {
		fmt.Fprintln(os.Stderr, "child: watchdog fired")
		os.Exit(3)
	})
	var cc *connCounter
	if sc.Crawl {
		cc = newConnCounter()
	}
	cl, err := newClient(clientName, sc, inf, cc)
	if err != nil {
		return err
	}
	defer cl.close()

	var phase atomic.Int32 // 0 warm-up, 1 measured, 2 stop
	var visits atomic.Int64
	stats := make([]workerStats, sc.Conc)
	var wg sync.WaitGroup
	for i := 0; i < sc.Conc; i++ {
		do, err := cl.worker()
		if err != nil {
			return err
		}
		ws := &stats[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			port, left := 0, 0
			for k := 0; k < maxRequestsPerWorker; k++ {
				if phase.Load() == 2 {
					return
				}
				if sc.Crawl && left == 0 {
					v := visits.Add(1) - 1
					port, left = int(v/crawlSame)%sc.Hosts, crawlVisit
				}
				left--
				t := time.Now()
				err := do(port)
				d := time.Since(t)
				if err != nil {
					ws.errs++
					if ws.err == "" {
						ws.err = err.Error()
					}
					if ws.errs > 1000 {
						return
					}
					continue
				}
				if phase.Load() == 1 {
					ws.n++
					ws.h.add(int64(d))
				}
			}
		}()
	}

	time.Sleep(warmup)
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	u0, s0 := rusageUS()
	t0 := time.Now()
	phase.Store(1)
	time.Sleep(dur)
	phase.Store(2)
	el := time.Since(t0)
	u1, s1 := rusageUS()
	runtime.ReadMemStats(&m1)
	if cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if memprofile != "" {
		if f, err := os.Create(memprofile); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	stuck := 0
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		stuck = -1 // unknown how many; reported as a flag
	}

	res := childResult{
		Client: clientName, Scenario: scName, Round: round,
		Seconds: el.Seconds(),
		UserUS:  u1 - u0, SysUS: s1 - s0,
		Mallocs: m1.Mallocs - m0.Mallocs, Bytes: m1.TotalAlloc - m0.TotalAlloc,
		NumGC:      m1.NumGC - m0.NumGC,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Stuck:      stuck,
	}
	if cc != nil {
		res.ClientMaxHost, res.ClientMaxTotal, res.Dials = cc.snapshot()
	}
	var h hist
	for i := range stats {
		ws := &stats[i]
		res.Requests += ws.n
		res.Errors += ws.errs
		if res.FirstErr == "" {
			res.FirstErr = ws.err
		}
		h.merge(&ws.h)
	}
	res.P50NS, res.P99NS = h.quantile(0.50), h.quantile(0.99)
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return nil
}
