// Command bench runs the side-by-side benchmark: it starts the fasthttp
// server as a child process pinned to one CPU, then runs every client and
// scenario as its own child process pinned to another CPU, interleaving the
// clients over several rounds, and writes RESULTS.md, results.svg and
// results.json.
//
//	cd bench && go run ./cmd/bench -quick    # under two minutes
//	cd bench && go run ./cmd/bench           # full mode, about 8 minutes
//
// The same binary is the server (-serve) and the client child (-child).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/asynchttp/asynchttp/bench/internal/server"
)

func main() {
	var (
		serve    = flag.Bool("serve", false, "internal: run as the server")
		ports    = flag.Int("ports", crawlHosts, "server: ports to listen on")
		child    = flag.Bool("child", false, "internal: run as a client child")
		cliName  = flag.String("client", "", "child: client name")
		scName   = flag.String("scenario", "", "child: scenario name")
		infoJSON = flag.String("info", "", "child: server info JSON")
		round    = flag.Int("round", 0, "child: round number")
		cpuprof  = flag.String("cpuprofile", "", "child: write a CPU profile of the measured window here")
		memprof  = flag.String("memprofile", "", "child: write an allocation profile (every allocation sampled) of the run here")

		quick   = flag.Bool("quick", false, "quick mode: 3 rounds of 0.3 s (under two minutes)")
		rounds  = flag.Int("rounds", 0, "rounds (default 5, quick 3)")
		dur     = flag.Duration("dur", 0, "measured window per run (default 2s, quick 0.3s)")
		warmup  = flag.Duration("warmup", 0, "warm-up per run (default 300ms, quick 150ms)")
		clients = flag.String("clients", allCols, "comma-separated clients")
		scens   = flag.String("scenarios", "", "comma-separated scenarios (default all)")
		out     = flag.String("out", ".", "directory for RESULTS.md, results.svg, results.json")
		profDir = flag.String("profiles", "", "write a CPU profile of every child's window into this directory")
		noPin   = flag.Bool("nopin", false, "do not pin with taskset")
		report  = flag.String("report", "", "only rewrite RESULTS.md and results.svg from this results.json")
	)
	flag.Parse()

	switch {
	case *serve:
		serveMain(*ports)
		return
	case *child:
		var inf server.Info
		if err := json.Unmarshal([]byte(*infoJSON), &inf); err != nil {
			fatal("child: bad -info: %v", err)
		}
		if err := runChild(*cliName, *scName, inf, *warmup, *dur, *round, *cpuprof, *memprof); err != nil {
			fatal("child %s %s: %v", *cliName, *scName, err)
		}
		return
	}

	if *report != "" {
		if err := rewrite(*report, *out); err != nil {
			fatal("%v", err)
		}
		return
	}
	cfg := runConfig{Rounds: 5, Dur: 2 * time.Second, Warmup: 300 * time.Millisecond, Mode: "full"}
	if *quick {
		cfg = runConfig{Rounds: 3, Dur: 300 * time.Millisecond, Warmup: 150 * time.Millisecond, Mode: "quick"}
	}
	if *rounds > 0 {
		cfg.Rounds = *rounds
	}
	if *dur > 0 {
		cfg.Dur = *dur
	}
	if *warmup > 0 {
		cfg.Warmup = *warmup
	}
	cfg.Clients = strings.Split(*clients, ",")
	for _, s := range scenarios {
		if *scens == "" || contains(strings.Split(*scens, ","), s.Name) {
			cfg.Scenarios = append(cfg.Scenarios, s)
		}
	}
	if err := drive(cfg, *out, *profDir, !*noPin); err != nil {
		fatal("%v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

// serveMain is the server child: GOMAXPROCS=1, one JSON line with the
// addresses, then serve until stdin closes (the parent exited) and print the
// final counts.
func serveMain(n int) {
	runtime.GOMAXPROCS(1)
	s, err := server.Start(n)
	if err != nil {
		fatal("server: %v", err)
	}
	b, _ := json.Marshal(s.Info())
	fmt.Println(string(b))
	io.Copy(io.Discard, os.Stdin) // returns when the parent closes the pipe
	fmt.Fprintln(os.Stderr, "server at exit:", s.Snapshot())
	s.Close()
}

type runConfig struct {
	Mode      string
	Rounds    int
	Dur       time.Duration
	Warmup    time.Duration
	Clients   []string
	Scenarios []scenario

	// Filled in by drive.
	Pinned    bool
	ServerCPU string
	ClientCPU string
	Started   time.Time
	Elapsed   time.Duration
}

// pinArgs returns the command line that runs args on cpu, with taskset
// when pinning is possible.
func pinArgs(pin bool, cpu string, args []string) []string {
	if !pin {
		return args
	}
	return append([]string{"taskset", "-c", cpu}, args...)
}

func drive(cfg runConfig, outDir, profDir string, pin bool) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("taskset"); err != nil || runtime.NumCPU() < 2 {
		pin = false
	}
	cfg.Pinned, cfg.ServerCPU, cfg.ClientCPU = pin, "0", "1"
	cfg.Started = time.Now()

	// The server.
	sargs := pinArgs(pin, cfg.ServerCPU, []string{self, "-serve", "-ports", fmt.Sprint(crawlHosts)})
	srv := exec.Command(sargs[0], sargs[1:]...)
	srv.Stderr = os.Stderr
	stdin, err := srv.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- srv.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			srv.Process.Kill()
			<-done
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("server did not start: %v", err)
	}
	var inf server.Info
	if err := json.Unmarshal([]byte(line), &inf); err != nil {
		return fmt.Errorf("server info %q: %v", line, err)
	}
	ctl := &controlClient{base: "http://" + inf.Control, hc: &http.Client{Timeout: 5 * time.Second}}

	var results []childResult
	total := cfg.Rounds * len(cfg.Scenarios) * len(cfg.Clients)
	k := 0
	for r := 0; r < cfg.Rounds; r++ {
		for _, sc := range cfg.Scenarios {
			order := append([]string(nil), cfg.Clients...)
			if r%2 == 1 { // A B C, then C B A: no client always runs first
				for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
					order[i], order[j] = order[j], order[i]
				}
			}
			for _, cl := range order {
				k++
				res, err := runOne(self, srv.Process.Pid, pin, cfg, inf, ctl, cl, sc, r, profDir)
				if err != nil {
					fmt.Fprintf(os.Stderr, "[%d/%d] %s %s: %v\n", k, total, sc.Name, cl, err)
					continue
				}
				fmt.Fprintf(os.Stderr, "[%d/%d] r%d %-10s %-20s %9.0f req/s %7.2f µs cpu/req %6.2f allocs/req p99 %s conns %d max/port %d max %d errs %d other-cpu %.2f\n",
					k, total, r, sc.Name, cl, float64(res.Requests)/res.Seconds,
					float64(res.UserUS+res.SysUS)/float64(max(res.Requests, 1)),
					float64(res.Mallocs)/float64(max(res.Requests, 1)),
					time.Duration(res.P99NS), res.Accepted, res.MaxPort, res.MaxOpen, res.Errors, res.OtherCPU)
				results = append(results, res)
			}
		}
	}
	cfg.Elapsed = time.Since(cfg.Started)

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(savedRun{Config: cfg, Args: os.Args[1:], Results: results}, "", " ")
	if err := os.WriteFile(filepath.Join(outDir, "results.json"), js, 0o644); err != nil {
		return err
	}
	if err := writeReports(cfg, os.Args[1:], results, outDir); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s, %s, %s in %s\n", filepath.Join(outDir, "RESULTS.md"),
		filepath.Join(outDir, "results.svg"), filepath.Join(outDir, "results.json"), cfg.Elapsed.Round(time.Second))
	return nil
}

// savedRun is results.json: enough to redraw the reports with -report.
type savedRun struct {
	Config  runConfig     `json:"config"`
	Args    []string      `json:"args"`
	Results []childResult `json:"results"`
}

func rewrite(path, outDir string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var sr savedRun
	if err := json.Unmarshal(b, &sr); err != nil {
		return err
	}
	return writeReports(sr.Config, sr.Args, sr.Results, outDir)
}

func writeReports(cfg runConfig, args []string, results []childResult, outDir string) error {
	tab := aggregate(cfg, results)
	if err := os.WriteFile(filepath.Join(outDir, "RESULTS.md"), []byte(markdown(cfg, args, tab)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "results.svg"), []byte(chartSVG(cfg, tab)), 0o644)
}

func runOne(self string, serverPID int, pin bool, cfg runConfig, inf server.Info, ctl *controlClient, cl string, sc scenario, round int, profDir string) (childResult, error) {
	var res childResult
	// Let the previous child's connections close, then zero the counts.
	for i := 0; i < 300; i++ {
		st, err := ctl.get("/stats")
		if err != nil {
			return res, err
		}
		if st.Open == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := ctl.get("/reset"); err != nil {
		return res, err
	}
	infJSON, _ := json.Marshal(inf)
	args := []string{self, "-child", "-client", cl, "-scenario", sc.Name, "-info", string(infJSON),
		"-warmup", cfg.Warmup.String(), "-dur", cfg.Dur.String(), "-round", fmt.Sprint(round)}
	if profDir != "" {
		os.MkdirAll(profDir, 0o755)
		name := strings.NewReplacer("/", "_", ".", "_").Replace(cl) + "-" + sc.Name + fmt.Sprintf("-r%d.pprof", round)
		args = append(args, "-cpuprofile", filepath.Join(profDir, name))
	}
	args = pinArgs(pin, cfg.ClientCPU, args)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Warmup+cfg.Dur+45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	before := sampleCPU(serverPID)
	outb, err := cmd.Output()
	after := sampleCPU(serverPID)
	if err != nil {
		return res, fmt.Errorf("child: %v", err)
	}
	if err := json.Unmarshal(outb, &res); err != nil {
		return res, fmt.Errorf("child output %q: %v", outb, err)
	}
	st, err := ctl.get("/stats")
	if err != nil {
		return res, err
	}
	res.Accepted, res.MaxOpen, res.MaxPort = st.Accepted, st.MaxOpen, st.MaxPort
	childCPU := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	res.OtherCPU, res.StealCPU = foreign(before, after, childCPU)
	return res, nil
}

type controlClient struct {
	base string
	hc   *http.Client
}

func (c *controlClient) get(path string) (server.Stats, error) {
	var st server.Stats
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}
