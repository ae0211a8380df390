// The child process: one client, one scenario; it prints one JSON line.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type childArgs struct {
	Client   string              `json:"client"`
	Scenario string              `json:"scenario"` // conns, crawl, churn
	N        int                 `json:"n"`        // conns: connections; crawl: hosts; churn: requests
	Conc     int                 `json:"conc"`
	TLS      bool                `json:"tls"`
	Cache    bool                `json:"cache"`   // a tls.NewLRUClientSessionCache in the client's TLS config
	NoCache  bool                `json:"nocache"` // asynchttp: DisableTLSSessionCache
	HS       int                 `json:"hs"`      // asynchttp: MaxConcurrentHandshakes (0: default)
	Zero     bool                `json:"zero"`
	Idle     string              `json:"idle"`   // crawl idle timeout
	Settle   string              `json:"settle"` // crawl: wait after the crawl before the settled reading
	Cap      int                 `json:"cap"`    // crawl: connections kept across hosts (0: no cap)
	Cert     string              `json:"cert"`   // HTTPS: the server's certificate (certSelf, certECDSA, certRSA)
	Certs    map[string]certFile `json:"certs"`
	Srv      serverInfo          `json:"srv"`
}

type childResult struct {
	Args  childArgs `json:"args"`
	Err   string    `json:"err,omitempty"`
	Errs  int64     `json:"errs"`
	Done  int64     `json:"done"`
	Conns int64     `json:"conns"` // connections the server saw open (conns scenario)

	// conns: per connection, KiB (heap = HeapInuse delta, stack = StackInuse delta).
	InflHeap, InflStack, InflRSS, InflG float64
	IdleHeap, IdleStack, IdleRSS, IdleG float64
	IdleLive                            float64 // HeapAlloc delta: live objects only (HeapInuse less the free space in its spans)
	// While the N requests were being sent: HeapInuse at its peak and
	// HeapSys at the end (both less the baseline), bytes allocated, GCs.
	SetupPeakHeap, SetupHeapSys, SetupAlloc float64
	SetupGCs                                int

	// crawl: MiB and fds.
	BaseHeap, PeakHeap, EndHeap, SettledHeap float64
	PeakFDs, EndFDs, SettledFDs              int
	Seconds                                  float64

	// churn
	CPUPerReqUS   float64
	AllocPerReqKB float64 // heap bytes allocated per request, KiB
	MallocsPerReq float64 // heap objects allocated per request
	Handshakes    int64
	Resumed       int64
}

func rusageUS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Sec*1e6 + ru.Utime.Usec + ru.Stime.Sec*1e6 + ru.Stime.Usec
}

func childMain(argJSON string) {
	if debugDir != "" {
		runtime.MemProfileRate = 4096 // finer heap profiles (debugSnap, cpuProfile)
	}
	var a childArgs
	if err := json.Unmarshal([]byte(argJSON), &a); err != nil {
		fatal("child: bad args: %v", err)
	}
	raiseNoFile()
	res := childResult{Args: a}
	var err error
	switch a.Scenario {
	case "conns":
		err = runConns(a, &res)
	case "crawl":
		err = runCrawl(a, &res)
	case "churn":
		err = runChurn(a, &res)
	default:
		err = fmt.Errorf("unknown scenario %q", a.Scenario)
	}
	if err != nil {
		res.Err = err.Error()
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

func baseURL(a childArgs, i int, path string) string {
	if a.TLS {
		ports := a.Srv.TLS[a.Cert]
		return "https://127.0.0.1:" + strconv.Itoa(ports[i%len(ports)]) + path
	}
	return "http://127.0.0.1:" + strconv.Itoa(a.Srv.Plain[i%len(a.Srv.Plain)]) + path
}

func roots(a childArgs) (o clientOpts, err error) {
	o = clientOpts{name: a.Client}
	if a.TLS {
		o.roots, err = loadRoots(a.Certs[a.Cert].Root)
	}
	return o, err
}

// runConns opens N connections, each carrying one request the server holds
// (in flight), reads the figures, releases them and reads them again with
// the N connections idle in the pool.
func runConns(a childArgs, res *childResult) error {
	o, err := roots(a)
	if err != nil {
		return err
	}
	o.maxIdle = a.N
	o.sessCache, o.noSessCache, o.handshakes = a.Cache, a.NoCache, a.HS
	c, err := newTestClient(o)
	if err != nil {
		return err
	}
	defer c.close()
	ctx := context.Background()
	// Warm up (lazy initialisation, TLS code paths), then drop the connection.
	for i := range len(a.Srv.Plain) {
		if err := c.get(ctx, baseURL(a, i, "/")); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	c.closeIdle()
	time.Sleep(200 * time.Millisecond) // let closed connections' goroutines exit
	base := takeSnap()

	var wg sync.WaitGroup
	var errs atomic.Int64
	var firstErr atomic.Value
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	peak := samplePeak()
	for i := range a.N {
		wg.Go(func() {
			if err := c.get(ctx, baseURL(a, i, "/hold")); err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		})
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		v, err := ctlGet(a.Srv.Ctl, "/ctl/held")
		if err != nil {
			return err
		}
		if v[0] >= int64(a.N) {
			break
		}
		if time.Now().After(deadline) || errs.Load() > 0 {
			ctlGet(a.Srv.Ctl, "/ctl/release")
			wg.Wait()
			return fmt.Errorf("only %d of %d requests held (%d errors, first: %v)", v[0], a.N, errs.Load(), firstErr.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	peakInuse, peakSys := peak()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	infl := takeSnap()
	res.SetupPeakHeap = perConnKiB(base.HeapInuse, peakInuse, a.N)
	res.SetupHeapSys = perConnKiB(ms0.HeapSys, peakSys, a.N)
	res.SetupAlloc = perConnKiB(ms0.TotalAlloc, ms1.TotalAlloc, a.N)
	res.SetupGCs = int(ms1.NumGC - ms0.NumGC)
	if _, err := ctlGet(a.Srv.Ctl, "/ctl/release"); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		return fmt.Errorf("released requests did not finish in 120 s")
	}
	time.Sleep(200 * time.Millisecond) // let the connections settle in the pool
	idle := takeSnap()
	debugSnap(a, base, infl, idle)
	v, err := ctlGet(a.Srv.Ctl, "/ctl/held")
	if err != nil {
		return err
	}
	res.Conns = v[1]
	res.Errs = errs.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.Err = s
	}
	n := a.N
	res.InflHeap = perConnKiB(base.HeapInuse, infl.HeapInuse, n)
	res.InflStack = perConnKiB(base.StackInuse, infl.StackInuse, n)
	res.InflRSS = perConnKiB(base.RSS, infl.RSS, n)
	res.InflG = float64(infl.Goroutines-base.Goroutines) / float64(n)
	res.IdleHeap = perConnKiB(base.HeapInuse, idle.HeapInuse, n)
	res.IdleLive = perConnKiB(base.HeapAlloc, idle.HeapAlloc, n)
	res.IdleStack = perConnKiB(base.StackInuse, idle.StackInuse, n)
	res.IdleRSS = perConnKiB(base.RSS, idle.RSS, n)
	res.IdleG = float64(idle.Goroutines-base.Goroutines) / float64(n)
	return nil
}

// runCrawl sends one GET to each of N host names with a.Conc workers, sampling
// the heap and open fds; then waits for the idle timeout and reads them again.
func runCrawl(a childArgs, res *childResult) error {
	idle, err := time.ParseDuration(a.Idle)
	if err != nil {
		return err
	}
	settle, err := time.ParseDuration(a.Settle)
	if err != nil {
		return err
	}
	o := clientOpts{name: a.Client, ports: a.Srv.Plain, idleTimeout: idle, zero: a.Zero, idleCap: a.Cap}
	c, err := newTestClient(o)
	if err != nil {
		return err
	}
	defer c.close()
	base := takeSnap()
	var peakHeap atomic.Uint64
	var peakFDs atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			if f := int64(openFDs()); f > peakFDs.Load() {
				peakFDs.Store(f)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second) // bound
	defer cancel()
	var next, done, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range a.Conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(a.N) {
					return
				}
				if err := c.get(ctx, crawlURL(int(i), a.Srv.Plain)); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	end := takeSnap()
	time.Sleep(settle)
	close(stop)
	<-sampled
	settled := takeSnap()
	const mib = 1 << 20
	res.Done, res.Errs = done.Load(), errs.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.Err = s
	}
	res.BaseHeap = float64(base.HeapInuse) / mib
	res.PeakHeap = float64(max(peakHeap.Load(), end.HeapInuse)) / mib
	res.EndHeap = float64(end.HeapInuse) / mib
	res.SettledHeap = float64(settled.HeapInuse) / mib
	res.PeakFDs = max(int(peakFDs.Load()), end.FDs)
	res.EndFDs = end.FDs
	res.SettledFDs = settled.FDs
	return nil
}

// runChurn sends N GETs over HTTPS with a.Conc workers, each on a new
// connection (the server answers Connection: close), and reports the client's
// CPU per request and the handshakes the server saw resumed.
func runChurn(a childArgs, res *childResult) error {
	o, err := roots(a)
	if err != nil {
		return err
	}
	o.sessCache = a.Cache
	o.maxIdle = a.Conc
	c, err := newTestClient(o)
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second) // bound
	defer cancel()
	if err := c.get(ctx, baseURL(a, 0, "/close")); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if _, err := ctlGet(a.Srv.Ctl, "/ctl/stats"); err != nil { // reset
		return err
	}
	var next, done, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	stopProf := cpuProfile(a)
	cpu0 := rusageUS()
	for range a.Conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(a.N) {
					return
				}
				if err := c.get(ctx, baseURL(a, int(i), "/close")); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	cpu := rusageUS() - cpu0
	stopProf()
	runtime.ReadMemStats(&ms1)
	v, err := ctlGet(a.Srv.Ctl, "/ctl/stats")
	if err != nil {
		return err
	}
	res.Done, res.Errs = done.Load(), errs.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.Err = s
	}
	res.Handshakes, res.Resumed = v[0], v[1]
	if res.Done > 0 {
		res.CPUPerReqUS = float64(cpu) / float64(res.Done)
		res.AllocPerReqKB = float64(ms1.TotalAlloc-ms0.TotalAlloc) / 1024 / float64(res.Done)
		res.MallocsPerReq = float64(ms1.Mallocs-ms0.Mallocs) / float64(res.Done)
	}
	return nil
}

// debugSnap, with MEMBENCH_DEBUG set to a directory, prints the live-heap
// (HeapAlloc) figures beside the in-use ones to stderr and writes a heap
// profile of the idle state there: where a per-connection figure comes from.
func debugSnap(a childArgs, base, infl, idle snap) {
	if debugDir == "" {
		return
	}
	n := a.N
	fmt.Fprintf(os.Stderr, "%s tls=%v: live KiB/conn in flight %.1f idle %.1f; in use in flight %.1f idle %.1f\n", a.Client, a.TLS,
		perConnKiB(base.HeapAlloc, infl.HeapAlloc, n), perConnKiB(base.HeapAlloc, idle.HeapAlloc, n),
		perConnKiB(base.HeapInuse, infl.HeapInuse, n), perConnKiB(base.HeapInuse, idle.HeapInuse, n))
	f, err := os.Create(debugPath(a, "heap"))
	if err != nil {
		return
	}
	defer f.Close()
	pprof.Lookup("heap").WriteTo(f, 0)
}

// debugDir is MEMBENCH_DEBUG: where a child writes its profiles; empty:
// none.
var debugDir = os.Getenv("MEMBENCH_DEBUG")

// debugPath names a profile of the child a in debugDir: one file per
// client, scenario and variant, so that no row's profile overwrites
// another's.
func debugPath(a childArgs, ext string) string {
	name := fmt.Sprintf("%s-%s-tls%v-cert%s-cache%v-nocache%v-hs%d.%s", strings.ReplaceAll(a.Client, "/", ""), a.Scenario, a.TLS, a.Cert, a.Cache, a.NoCache, a.HS, ext)
	return filepath.Join(debugDir, name)
}

// cpuProfile, with MEMBENCH_DEBUG set to a directory, profiles the CPU of a
// churn there until the returned func is called.
func cpuProfile(a childArgs) func() {
	if debugDir == "" {
		return func() {}
	}
	f, err := os.Create(debugPath(a, "cpu"))
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		if h, err := os.Create(debugPath(a, "allocs")); err == nil {
			pprof.Lookup("allocs").WriteTo(h, 0)
			h.Close()
		}
	}
}

// samplePeak reads the heap every 5 ms until the returned func is called,
// which gives the peak HeapInuse and the last HeapSys. It reads
// runtime/metrics, which (unlike ReadMemStats) does not stop the world, so
// the sampling leaves the heap it measures alone.
func samplePeak() func() (inuse, sys uint64) {
	stop := make(chan struct{})
	done := make(chan struct{})
	var peak, hsys uint64
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		// HeapInuse = objects + unused; HeapSys adds free and released.
		m := []metrics.Sample{
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/heap/unused:bytes"},
			{Name: "/memory/classes/heap/free:bytes"},
			{Name: "/memory/classes/heap/released:bytes"},
		}
		for {
			metrics.Read(m)
			inuse := m[0].Value.Uint64() + m[1].Value.Uint64()
			peak, hsys = max(peak, inuse), inuse+m[2].Value.Uint64()+m[3].Value.Uint64()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(stop)
		<-done
		return peak, hsys
	}
}
