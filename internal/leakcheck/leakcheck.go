// Package leakcheck fails tests that leave library goroutines or open file
// descriptors behind.
//
// A goroutine counts as the library's when any frame of its stack, or the
// function that started it (its "created by" line), is in package
// github.com/asynchttp/asynchttp. The "created by" rule catches goroutines
// the library started that run only other packages' code (go io.Copy(...))
// or have not run yet.
//
// Goroutines running a test, benchmark or fuzz target (their stacks hold
// testing.tRunner, testing.(*M), testing.runFuzz* or testing.fRunner) and
// this package's own are ignored. Every check retries for a few seconds
// before it fails, because closing a conn or a Client finishes
// asynchronously.
//
// The checks look at the whole process: do not combine them with
// t.Parallel.
package leakcheck

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// defaultTimeout bounds how long a check waits for stragglers to exit.
const defaultTimeout = 5 * time.Second

// Main runs the tests and, if they passed, waits up to a few seconds for
// every library goroutine to exit. If some remain it prints their stacks
// and exits with status 1; otherwise it exits with m.Run's status. Use it as
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
func Main(m *testing.M) {
	os.Exit(run(m, libMatcher, defaultTimeout))
}

// run is Main without the exit, for any matcher.
func run(m *testing.M, lm matcher, timeout time.Duration) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if gs := waitGoroutines(lm, nil, timeout); len(gs) > 0 {
		fmt.Fprintf(os.Stderr, "leakcheck: %d library goroutine(s) still running after the tests:\n\n%s\n",
			len(gs), formatGoroutines(gs))
		return 1
	}
	return 0
}

// Check waits up to a few seconds for every library goroutine to exit and
// fails t, listing their stacks, if some remain. It does not stop t, so it
// may run in t.Cleanup.
func Check(t testing.TB) {
	t.Helper()
	if gs := waitGoroutines(libMatcher, nil, defaultTimeout); len(gs) > 0 {
		t.Errorf("leakcheck: %d library goroutine(s) leaked:\n\n%s", len(gs), formatGoroutines(gs))
	}
}

// Snapshot records the open file descriptors and live goroutines at one
// moment, for Check to compare against later. The zero Snapshot checks no
// descriptors and treats every library goroutine as new.
type Snapshot struct {
	fds        map[int]string // descriptor -> readlink target; nil: unchecked
	goroutines map[uint64]bool
}

// Take records the process's open file descriptors (where /proc/self/fd
// exists) and the IDs of its live goroutines.
func Take() Snapshot {
	var s Snapshot
	if fds, ok := openFDs(); ok {
		s.fds = fds
	}
	gs := parseStacks(allStacks())
	s.goroutines = make(map[uint64]bool, len(gs))
	for _, g := range gs {
		s.goroutines[g.id] = true
	}
	return s
}

// Check waits up to a few seconds until no more descriptors are open than
// at Take and no library goroutine started since Take is alive. Otherwise
// it fails t, listing the new goroutines' stacks and the descriptors not
// open at Take. A descriptor dropped without Close may be closed by its
// finalizer while Check polls (polling allocates, so the GC runs), which
// hides that leak. Check does not stop t, so it may run in t.Cleanup:
//
//	snap := leakcheck.Take()
//	t.Cleanup(func() { snap.Check(t) }) // before other cleanups: it runs last
func (s Snapshot) Check(t testing.TB) {
	t.Helper()
	s.check(t, libMatcher, defaultTimeout)
}

func (s Snapshot) check(t testing.TB, m matcher, timeout time.Duration) {
	t.Helper()
	var (
		gs      []goroutine
		fds     []string
		tooMany bool
	)
	poll(timeout, func() bool {
		gs = m.leaked(parseStacks(allStacks()), s.goroutines)
		fds, tooMany = nil, false
		if s.fds != nil {
			if now, ok := openFDs(); ok && len(now) > len(s.fds) {
				tooMany = true
				fds = extraFDs(s.fds, now)
			}
		}
		return len(gs) == 0 && !tooMany
	})
	if len(gs) > 0 {
		t.Errorf("leakcheck: %d library goroutine(s) leaked:\n\n%s", len(gs), formatGoroutines(gs))
	}
	if tooMany {
		t.Errorf("leakcheck: file descriptors leaked (%d open at Take); not open then:\n%s",
			len(s.fds), formatFDs(fds))
	}
}

// waitGoroutines polls until m owns no goroutine outside known, or timeout
// passes, and returns the goroutines left.
func waitGoroutines(m matcher, known map[uint64]bool, timeout time.Duration) []goroutine {
	var gs []goroutine
	poll(timeout, func() bool {
		gs = m.leaked(parseStacks(allStacks()), known)
		return len(gs) == 0
	})
	return gs
}

// poll calls done until it reports true or timeout has passed, backing off
// from 1ms to 100ms between calls; it always calls done at least once.
// Sleeping is right here: the goroutines and descriptors awaited belong to
// code that offers nothing to wait on.
func poll(timeout time.Duration, done func() bool) {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !done() && time.Now().Before(deadline) {
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}
