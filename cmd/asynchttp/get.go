// The get command: fetch URLs concurrently, one line each.

package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asynchttp/asynchttp"
)

const getHead = `Usage: asynchttp get [flags] URL...

Fetches every URL at once (at most -c in flight) through one Client and
prints one line per URL, in the order given: status, body size, time, and
whether the request went out on a new connection or a reused one. Repeat a
URL to see reuse. -o DIR saves each body; -v prints the response headers.

Exit code: 0 when every URL was fetched (whatever its status), 1 when one
failed, 2 for a bad flag or URL, 130 after Ctrl-C.
`

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("get", getHead)
	var cf configFlags
	cf.register(fs, asynchttp.Config{})
	outDir := fs.String("o", "", "save each body in this directory (created if missing)")
	verbose := fs.Bool("v", false, "print the response headers under each line")
	inflight := fs.Int("c", 16, "requests in flight at once")
	method := fs.String("method", "GET", "request method")
	timeout := fs.Duration("timeout", 30*time.Second, "per-request deadline (waiting for a connection included); 0 = none")
	var headers headerFlag
	fs.Var(&headers, "H", `request header "Name: value", repeatable`)
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "asynchttp get: no URL given (usage: asynchttp get [flags] URL...)")
		return exitUsage
	}
	var urls []*url.URL
	bad := false
	for _, a := range fs.Args() {
		u, err := parseURL(a)
		if err != nil {
			fmt.Fprintf(stderr, "asynchttp get: %v\n", err)
			bad = true
			continue
		}
		urls = append(urls, u)
	}
	if bad {
		return exitUsage
	}
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "asynchttp get: -o: %v\n", err)
			return exitUsage
		}
	}

	o := newObserver()
	cfg := cf.config()
	cfg.Dial = o.dial
	c := asynchttp.New(cfg)
	defer c.Close()
	g := asynchttp.NewGroup(c, *inflight)

	// pending is one URL's request; done is closed once its outcome is
	// recorded (the Future's callback ran).
	type pending struct {
		done   chan struct{}
		resp   *asynchttp.Response
		err    error
		lat    time.Duration
		reused bool
	}
	// Start every request (the group bounds how many run at once) from a
	// goroutine, so that the lines below print as the first ones finish.
	started := make(chan *pending, len(urls))
	go func() {
		defer close(started)
		for _, u := range urls {
			rctx, trace := o.begin(ctx, hostPort(u))
			cancel := context.CancelFunc(func() {})
			if *timeout > 0 {
				rctx, cancel = context.WithTimeout(rctx, *timeout)
			}
			req := asynchttp.AcquireRequest()
			req.SetRequestURI(u.String())
			req.SetMethod(*method)
			for _, h := range headers {
				req.Header.Add(h[0], h[1])
			}
			p := &pending{done: make(chan struct{})}
			g.Execute(rctx, req).OnComplete(func(resp *asynchttp.Response, err error) {
				defer close(p.done)
				cancel()
				asynchttp.ReleaseRequest(req) // the Future is done: req is ours again
				status := 0
				var size int64
				if resp != nil {
					status, size = resp.StatusCode, int64(len(resp.Body()))
				}
				p.resp, p.err = resp, err
				p.lat, p.reused = o.end(trace, outcome{status: status, bytes: size, err: err})
			})
			started <- p
		}
	}()

	names := make(map[string]int)
	failed := 0
	for _, u := range urls {
		p := <-started
		<-p.done
		resp, err, lat, reused := p.resp, p.err, p.lat, p.reused
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "asynchttp get: %s: %s\n", u, describe(err, hostPort(u)))
			continue
		}
		conn := "new conn"
		if reused {
			conn = "reused"
		}
		size := int64(len(resp.Body()))
		fmt.Fprintf(stdout, "%d %-20s %10s %9s  %-8s  %s\n", resp.StatusCode, truncate(resp.Reason(), 20), fmtBytes(size), fmtDur(lat), conn, u)
		if *verbose {
			resp.Header.VisitAll(func(k, v []byte) {
				fmt.Fprintf(stdout, "    %s: %s\n", k, v)
			})
		}
		if *outDir != "" {
			name := bodyFileName(u, names)
			if err := os.WriteFile(filepath.Join(*outDir, name), resp.Body(), 0o644); err != nil {
				fmt.Fprintf(stderr, "asynchttp get: saving %s: %v\n", u, err)
				failed++
			} else if *verbose {
				fmt.Fprintf(stdout, "    saved to %s\n", filepath.Join(*outDir, name))
			}
		}
		asynchttp.ReleaseResponse(resp)
	}
	g.Wait()
	st := c.Stats()
	fmt.Fprintf(stdout, "%d URLs, %d failed; %d connections opened, %d requests on reused ones\n",
		len(urls), failed, st.Created, st.Reused)
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case failed > 0:
		return exitFailed
	}
	return exitOK
}

// bodyFileName names the file a URL's body is saved in: host_port_path,
// made safe, with a counter when two URLs would share a name.
func bodyFileName(u *url.URL, used map[string]int) string {
	p := strings.Trim(u.EscapedPath(), "/")
	if p == "" {
		p = "index"
	}
	if u.RawQuery != "" {
		p += "_" + u.RawQuery
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, strings.ReplaceAll(hostPort(u), ":", "_")+"_"+p)
	if len(name) > 200 {
		name = name[:200]
	}
	used[name]++
	if n := used[name]; n > 1 {
		name = fmt.Sprintf("%s.%d", name, n)
	}
	return name
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
