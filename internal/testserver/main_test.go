// Helpers for the testserver tests: leak checks, a net/http client, a fake
// testing.TB.

package testserver

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// noLeaks fails t if, once its other cleanups have run, a descriptor opened
// during the test is still open or a server goroutine is still running.
// Call it first so that its cleanup runs last.
func noLeaks(t *testing.T) {
	snap := leakcheck.Take()
	t.Cleanup(func() {
		snap.Check(t)
		// Close waits for every server goroutine to finish its work,
		// but one may still be returning from its last call: let it
		// run. Gosched, not a sleep: the straggler is runnable.
		frames := []string{
			"internal/testserver.(*Scripted)",
			"internal/testserver.(*Counting)",
			"net/http.(*conn).serve",
			"net/http.(*Server).Serve",
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			stacks := allStacks()
			left := slices.DeleteFunc(slices.Clone(frames), func(f string) bool {
				return !strings.Contains(stacks, f)
			})
			if len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("server goroutines left running (%v):\n%s", left, stacks)
				return
			}
			runtime.Gosched()
		}
	})
}

func allStacks() string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// newClient returns a net/http client whose idle conns are closed in
// t.Cleanup.
func newClient(t *testing.T, keepAlive bool) *http.Client {
	tr := &http.Transport{DisableKeepAlives: !keepAlive}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// fakeTB records failures instead of failing the real test.
type fakeTB struct {
	testing.TB
	failures []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failures = append(f.failures, "fatal: "+fmt.Sprintf(format, args...))
}
