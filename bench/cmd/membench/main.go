// Command membench measures what connections cost each client (asynchttp,
// net/http, fasthttp): KiB per idle and in-flight connection over HTTP and
// HTTPS, a many-host crawl's peak and settled heap and fds, and a TLS churn
// (new connection per request) with and without session resumption.
//
// Every client runs in its own child process; the server runs in another.
// Only 127.0.0.1 is used; crawl host names resolve through each client's own
// hook (no DNS). Results go to stdout and to -out (bench/MEMORY.md).
//
//	cd bench && go run ./cmd/membench            # 3 rounds (-rounds 5: 8-10 min)
//	cd bench && go run ./cmd/membench -quick     # ~1 min
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

var clients = []string{cAsync, cNet, cFast}

func main() {
	var (
		role     = flag.String("role", "", "internal: server or child")
		argJSON  = flag.String("args", "", "internal: child arguments")
		certsArg = flag.String("certs", "", "internal: the server's certificate files")
		quick    = flag.Bool("quick", false, "smaller counts (~1 min)")
		conns    = flag.Int("conns", 5000, "connections for the idle/in-flight figures")
		tlsConns = flag.Int("tlsconns", 0, "connections for the HTTPS figures (0: same as -conns)")
		hosts    = flag.Int("hosts", 100_000, "host names in the crawl")
		zeroH    = flag.Int("zerohosts", 15_000, "host names in the zero-Config crawl")
		conc     = flag.Int("c", 64, "crawl concurrency")
		crawlCap = flag.Int("crawlcap", 2000, "crawl: connections kept across hosts (asynchttp MaxTotalConns and MaxIdleConns, net/http MaxIdleConns; fasthttp has no such cap); 0: none")
		churn    = flag.Int("churn", 3000, "requests in the TLS churn")
		rounds   = flag.Int("rounds", 3, "interleaved rounds of the connection and TLS churn scenarios (the tables give medians)")
		ports    = flag.Int("ports", 8, "server ports: this many plain, and as many TLS for each certificate")
		only     = flag.String("only", "conns,tls,crawl,zero,churn", "scenarios to run")
		out      = flag.String("out", "MEMORY.md", "markdown output (empty: none)")
		noPin    = flag.Bool("nopin", false, "do not pin with taskset")
		report   = flag.String("report", "", "only draw the markdown (-out) and its chart again from this results file (a run's memory.json)")
	)
	flag.Parse()
	switch *role {
	case "server":
		serveMain(*ports, *ports, *certsArg)
		return
	case "child":
		childMain(*argJSON)
		return
	case "":
	default:
		fatal("unknown -role %q", *role)
	}
	if *report != "" {
		if err := redraw(*report, *out); err != nil {
			fatal("%v", err)
		}
		return
	}
	if *quick {
		*conns, *hosts, *zeroH, *churn, *rounds = 1000, 10_000, 3000, 600, 1
	}
	if *tlsConns == 0 {
		*tlsConns = *conns
	}
	cmdline := "cd bench && go run ./cmd/membench " + strings.Join(os.Args[1:], " ")
	if err := run(*conns, *tlsConns, *hosts, *zeroH, *conc, *crawlCap, *churn, max(*rounds, 1), *ports, *only, *out, !*noPin, cmdline); err != nil {
		fatal("%v", err)
	}
}

func pin(on bool, cpu string, args []string) []string {
	if !on {
		return args
	}
	return append([]string{"taskset", "-c", cpu}, args...)
}

func run(conns, tlsConns, hosts, zeroH, conc, crawlCap, churn, rounds, ports int, only, out string, pinOn bool, cmdline string) error {
	start := time.Now()
	if _, err := exec.LookPath("taskset"); err != nil || runtime.NumCPU() < 2 {
		pinOn = false
	}
	raiseNoFile()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "membench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certs, err := writeCerts(dir)
	if err != nil {
		return err
	}
	certsJSON, _ := json.Marshal(certs)
	sargs := pin(pinOn, "0", []string{self, "-role", "server", "-ports", fmt.Sprint(ports), "-certs", string(certsJSON)})
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
	defer func() { stdin.Close(); srv.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("server: %v", err)
	}
	var si serverInfo
	if err := json.Unmarshal([]byte(line), &si); err != nil {
		return fmt.Errorf("server: %v", err)
	}
	go io.Copy(io.Discard, stdout)

	child := func(a childArgs) (childResult, error) {
		a.Certs, a.Srv = certs, si
		b, _ := json.Marshal(a)
		args := pin(pinOn, "1", []string{self, "-role", "child", "-args", string(b)})
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stderr = os.Stderr
		o, err := cmd.Output()
		var r childResult
		if jerr := json.Unmarshal(o, &r); jerr != nil {
			return r, fmt.Errorf("child %s %s: %v (%v)", a.Client, a.Scenario, jerr, err)
		}
		fmt.Fprintf(os.Stderr, "  %s %s n=%d tls=%v cert=%q cache=%v nocache=%v zero=%v: done %.0fs\n", a.Client, a.Scenario, a.N, a.TLS, a.Cert, a.Cache, a.NoCache, a.Zero, time.Since(start).Seconds())
		r.Args.Certs, r.Args.Srv = nil, serverInfo{} // this run's files and ports: not kept in memory.json
		return r, nil
	}
	want := map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		want[strings.TrimSpace(s)] = true
	}
	res := &results{
		Cmdline: cmdline, Go: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU(),
		Hosts: hosts, ZeroHosts: zeroH, Conc: conc, CrawlCap: crawlCap, Churn: churn,
	}
	for _, sc := range []struct {
		key string
		tls bool
		n   int
	}{{"conns", false, conns}, {"tls", true, tlsConns}} {
		if !want[sc.key] {
			continue
		}
		// Over HTTPS the session cache changes the handshakes (and the
		// garbage they leave), so each client runs with and without one.
		variants := []childArgs{{Client: cAsync}, {Client: cNet}, {Client: cFast}}
		if sc.tls {
			variants = []childArgs{{Client: cAsync}, {Client: cAsync, HS: -1}, {Client: cAsync, NoCache: true}, {Client: cNet}, {Client: cNet, Cache: true}, {Client: cFast}, {Client: cFast, Cache: true}}
		}
		for i := range variants {
			variants[i].Scenario, variants[i].N, variants[i].TLS = "conns", sc.n, sc.tls
		}
		// The free space left in the heap's spans varies from run to
		// run, so the table gives medians of interleaved rounds.
		rows, err := interleaved(rounds, variants, child)
		if err != nil {
			return err
		}
		if sc.tls {
			res.TLSConns, res.HTTPS = sc.n, rows
		} else {
			res.Conns, res.HTTP = sc.n, rows
		}
	}
	if want["crawl"] {
		var rows []childResult
		for _, c := range clients {
			r, err := child(childArgs{Client: c, Scenario: "crawl", N: hosts, Conc: conc, Idle: "2s", Settle: "5s", Cap: crawlCap})
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
		res.Crawl = rows
	}
	if want["zero"] {
		var rows []childResult
		for _, c := range []string{cAsync, cNet} {
			r, err := child(childArgs{Client: c, Scenario: "crawl", N: zeroH, Conc: conc, Zero: true, Idle: "0s", Settle: "5s"})
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
		res.Zero = rows
	}
	if want["churn"] {
		// Each against the self-signed certificate (one signature to
		// check on a full handshake) and against the chains public sites
		// serve (three): resumption skips those checks. This machine's
		// speed drifts, so the table gives medians of interleaved rounds.
		var variants []childArgs
		for _, k := range certKinds {
			v := childArgs{Scenario: "churn", N: churn, Conc: 4, TLS: true, Cert: k}
			for _, c := range []struct {
				name  string
				cache bool
			}{{cAsync, false}, {cAsync, true}, {cNet, false}, {cNet, true}, {cFast, false}} {
				if c.name == cAsync && c.cache && k != certSelf {
					continue // the Client's own cache against tls's LRU: once is enough
				}
				v.Client, v.Cache = c.name, c.cache
				variants = append(variants, v)
			}
		}
		rows, err := interleaved(rounds, variants, child)
		if err != nil {
			return err
		}
		res.ChurnRows = rows
	}
	res.Seconds = time.Since(start).Seconds()
	md, svg := res.render()
	fmt.Print(md)
	if out == "" {
		return nil
	}
	raw, err := json.MarshalIndent(res, "", " ")
	if err != nil {
		return err
	}
	return writeOutputs(out, md, svg, raw)
}

// writeOutputs writes the markdown to out and, beside it, the chart it
// links and (when raw is not nil) the results it was drawn from.
func writeOutputs(out, md, svg string, raw []byte) error {
	dir := filepath.Dir(out)
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, chartFile), []byte(svg), 0o644); err != nil {
		return err
	}
	if raw == nil {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, resultsFile), raw, 0o644)
}

// redraw draws the markdown and the chart again from a run's results.
func redraw(resultsPath, out string) error {
	raw, err := os.ReadFile(resultsPath)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("%s: %v", resultsPath, err)
	}
	md, svg := res.render()
	if out == "" {
		fmt.Print(md)
		return nil
	}
	return writeOutputs(out, md, svg, nil)
}

// interleaved runs every variant once a round, each round starting with
// another variant (so that none always runs first), and returns each
// variant's results in round order.
func interleaved(rounds int, variants []childArgs, child func(childArgs) (childResult, error)) ([][]childResult, error) {
	rows := make([][]childResult, len(variants))
	for round := range rounds {
		for _, i := range rotated(len(variants), round) {
			r, err := child(variants[i])
			if err != nil {
				return nil, err
			}
			rows[i] = append(rows[i], r)
		}
	}
	return rows, nil
}

// rotated returns 0..n-1 starting at round mod n: each round starts with
// another variant, so that none always runs first.
func rotated(n, round int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = (round + i) % n
	}
	return idx
}
