// Output: the live status line (only on a terminal) and the per-host
// table printed at the end of a demo or crawl.

package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/asynchttp/asynchttp"
)

// isTerminal reports whether w is a character device (a terminal): the
// status line is drawn only there, so pipes and tests stay clean.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// statusLine redraws one line on a terminal every period with what line
// returns, and snapshots the pool's stats at the same pace (the tool keeps
// them whether or not a terminal shows them).
type statusLine struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// startStatus starts the ticker. line is called with the latest stats.
func startStatus(w io.Writer, c *asynchttp.Client, o *observer, line func(asynchttp.Stats) string) *statusLine {
	s := &statusLine{stop: make(chan struct{})}
	draw := isTerminal(w)
	s.wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				if draw {
					fmt.Fprint(w, "\r\x1b[K") // leave the line clean for the table
				}
				return
			case <-t.C:
				st := o.snapshot(c)
				if draw {
					fmt.Fprint(w, "\r\x1b[K"+line(st))
				}
			}
		}
	})
	return s
}

// Stop stops the ticker and clears the line.
func (s *statusLine) Stop() {
	close(s.stop)
	s.wg.Wait()
}

// poolPart is the connection part of a status line.
func poolPart(st asynchttp.Stats) string {
	return fmt.Sprintf("conns open %d idle %d in use %d waiting %d", st.Open, st.Idle, st.InUse, st.Waiting)
}

// rate returns n per second over d.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// policyFigures are a host's host-policy figures for the table.
type policyFigures struct {
	wait    time.Duration // waited for rate and delay turns, in all
	limit   int           // the connection cap at the end; 0: none
	retries uint64        // requests sent again (stale connection or status)
	ejected uint64        // requests the host's open breaker failed at once
}

// policyFiguresOf returns the policy figures of st's hosts by "host:port"
// (and the totals under "total", as the table names them).
func policyFiguresOf(st asynchttp.Stats) map[string]policyFigures {
	m := map[string]policyFigures{"total": {wait: st.PolicyWaitTime,
		retries: st.StaleRetries + st.StatusRetries, ejected: st.BreakerRejects}}
	for key, hs := range st.Hosts {
		_, hp, ok := strings.Cut(key, "://")
		if !ok || strings.Contains(hp, " ") {
			continue // a proxied key: its host has its own entry
		}
		m[hp] = policyFigures{wait: hs.PolicyWaitTime, limit: hs.ConnLimit,
			retries: hs.StaleRetries + hs.StatusRetries, ejected: hs.BreakerRejects}
	}
	return m
}

// printHostTable writes the per-host table: requests, responses that were
// fine, connections dialed, reuse, latency percentiles, errors by kind,
// and why the pool closed the host's connections, most frequent first.
// label, when not nil, adds a column (the demo's host roles); pf, when
// not nil, four: the time spent waiting for politeness turns, the
// connection cap at the end, the retries, and the requests the host's
// breaker failed at once (ejected).
func printHostTable(w io.Writer, o *observer, label func(key string) string, pf map[string]policyFigures) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "host\t"
	if label != nil {
		head += "role\t"
	}
	head += "reqs\tok\tconns\tpeak\treuse\tp50\tp99\t"
	if pf != nil {
		head += "polite\tlimit\tretries\tejected\t"
	}
	fmt.Fprintln(tw, head+"errors\tclosed")
	row := func(h hostSummary, role string) {
		s := h.key + "\t"
		if label != nil {
			s += role + "\t"
		}
		s += fmt.Sprintf("%d\t%d\t%d\t%d\t%s\t%s\t%s\t",
			h.requests, h.ok, h.dials, h.peak, pct(h.reused, h.responses), fmtDur(h.p50), fmtDur(h.p99))
		if pf != nil {
			f := pf[h.key]
			limit := "-"
			if f.limit > 0 {
				limit = fmt.Sprint(f.limit)
			}
			s += fmtDur(f.wait) + "\t" + limit + "\t" + fmt.Sprint(f.retries) + "\t" + fmt.Sprint(f.ejected) + "\t"
		}
		s += fmtErrs(h.errs) + "\t" + fmtReasons(h.closedBy)
		fmt.Fprintln(tw, s)
	}
	for _, h := range o.summaries() {
		role := ""
		if label != nil {
			role = label(h.key)
		}
		row(h, role)
	}
	row(o.totals(), "")
	tw.Flush()
}

// printPoolSummary writes what the pool itself counted: connections
// created and reused, and why it closed the ones it closed. st should be
// taken after Client.Close, so that every connection is accounted for.
func printPoolSummary(w io.Writer, st asynchttp.Stats, o *observer, cfg asynchttp.Config) {
	fmt.Fprintf(w, "pool: %d connections opened, %d requests on reused ones; most open at once %d", st.Created, st.Reused, o.totals().peak)
	if cfg.MaxTotalConns > 0 {
		fmt.Fprintf(w, " (MaxTotalConns %d)", cfg.MaxTotalConns)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "closed %d: %s\n", st.Closed, fmtReasons(st.ClosedBy))
}

// fmtReasons lists close reasons, most frequent first.
func fmtReasons(m map[asynchttp.CloseReason]uint64) string {
	type kv struct {
		r asynchttp.CloseReason
		n uint64
	}
	var all []kv
	for r, n := range m {
		if n > 0 {
			all = append(all, kv{r, n})
		}
	}
	if len(all) == 0 {
		return "none"
	}
	slices.SortFunc(all, func(a, b kv) int {
		if a.n != b.n {
			return int(b.n) - int(a.n)
		}
		return int(a.r) - int(b.r)
	})
	parts := make([]string, len(all))
	for i, x := range all {
		parts[i] = fmt.Sprintf("%s %d", x.r, x.n)
	}
	return strings.Join(parts, ", ")
}

// fmtErrs lists error kinds, most frequent first: "refused×12 http 503×4".
func fmtErrs(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func pct(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(of))
}

// fmtDur rounds a latency for a table.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

// fmtBytes is a size in B, KiB or MiB.
func fmtBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}
