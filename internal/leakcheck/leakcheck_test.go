// Snapshots of goroutines and file descriptors, and Main failing a test
// binary that leaks.

package leakcheck

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary a child of TestMainReportsLeaks.
const childEnv = "LEAKCHECK_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "" {
		Main(m)
	}
	// Only goroutines TestLeakyChild starts count as the library's in
	// the child.
	os.Exit(run(m, matcher{prefix: selfPrefix + "TestLeakyChild"}, short))
}

// TestMainReportsLeaks runs TestLeakyChild in a child process and checks
// that Main's check fails it, or passes it when nothing leaks.
func TestMainReportsLeaks(t *testing.T) {
	for _, tt := range []struct {
		name, mode string
		code       int
		stderr     string
	}{
		{"leak", "leak", 1, "leakcheck: 1 library goroutine(s) still running after the tests:"},
		{"clean", "clean", 0, ""},
		{"failed tests skip the check", "fail", 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLeakyChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+tt.mode)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := errors.AsType[*exec.ExitError](err); ok {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.code, code, stderr.String())
			if tt.stderr != "" {
				assert.Contains(t, stderr.String(), tt.stderr)
				assert.Contains(t, stderr.String(), "created by "+selfPrefix+"TestLeakyChild")
			} else {
				assert.NotContains(t, stderr.String(), "leakcheck:")
			}
		})
	}
}

func TestLeakyChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	switch mode {
	case "":
		t.Skip("runs only as a child of TestMainReportsLeaks")
	case "leak", "fail":
		go parkedGoroutine(make(chan struct{}), make(chan struct{}))
	}
	if mode == "fail" {
		t.Error("failing on purpose")
	}
}

// fakeTB records failures instead of failing the real test. Methods it does
// not override panic through the nil embedded interface.
type fakeTB struct {
	testing.TB
	errors []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.errors = append(f.errors, "fatal: "+fmt.Sprintf(format, args...))
}

// short keeps expected failures quick.
const short = 50 * time.Millisecond

func TestSnapshotFDs(t *testing.T) {
	if _, ok := openFDs(); !ok {
		t.Skip("no /proc/self/fd")
	}
	snap := Take()
	path := filepath.Join(t.TempDir(), "leaky")
	f, err := os.Create(path)
	require.NoError(t, err)

	var tb fakeTB
	snap.check(&tb, libMatcher, short)
	require.Len(t, tb.errors, 1, "open file must be reported")
	assert.Contains(t, tb.errors[0], "file descriptors leaked")
	assert.Contains(t, tb.errors[0], fmt.Sprintf("fd %d -> %s", f.Fd(), path))

	require.NoError(t, f.Close())
	tb = fakeTB{}
	snap.check(&tb, libMatcher, short)
	assert.Empty(t, tb.errors)

	snap.Check(t) // the exported form passes as well
}

func TestExtraFDs(t *testing.T) {
	base := map[int]string{0: "/dev/null", 1: "pipe:[1]"}
	now := map[int]string{0: "/dev/null", 1: "/tmp/x", 7: "socket:[9]"}
	assert.Equal(t, []string{"fd 1 -> /tmp/x", "fd 7 -> socket:[9]"}, extraFDs(base, now))
	assert.Empty(t, extraFDs(now, now))
}

func TestSnapshotFDsUnchecked(t *testing.T) {
	var snap Snapshot // zero: descriptors are not checked
	f, err := os.Create(filepath.Join(t.TempDir(), "ignored"))
	require.NoError(t, err)
	defer f.Close()
	var tb fakeTB
	snap.check(&tb, libMatcher, short)
	assert.Empty(t, tb.errors)
}

// selfMatcher aims the goroutine check at this package, whose frames the
// real matcher ignores, so a goroutine started here stands in for a leaked
// library goroutine.
var selfMatcher = matcher{prefix: selfPrefix, ignore: testFrames}

func parkedGoroutine(release <-chan struct{}, exited chan<- struct{}) {
	<-release
	close(exited)
}

func TestSnapshotGoroutines(t *testing.T) {
	snap := Take()
	release, exited := make(chan struct{}), make(chan struct{})
	go parkedGoroutine(release, exited)

	var tb fakeTB
	snap.check(&tb, selfMatcher, short)
	require.Len(t, tb.errors, 1, "parked goroutine must be reported")
	assert.Contains(t, tb.errors[0], "1 library goroutine(s) leaked")
	// A goroutine yet to run shows only a wrapper frame and the
	// "created by" line; both name the test.
	assert.Contains(t, tb.errors[0], "created by "+selfPrefix+"TestSnapshotGoroutines")

	// A later snapshot knows the goroutine already.
	tb = fakeTB{}
	Take().check(&tb, selfMatcher, short)
	assert.Empty(t, tb.errors)

	// Exiting while Check polls is enough: it waits.
	tb = fakeTB{}
	go close(release)
	snap.check(&tb, selfMatcher, 5*time.Second)
	assert.Empty(t, tb.errors)
	<-exited
}

func TestWaitGoroutines(t *testing.T) {
	release, exited := make(chan struct{}), make(chan struct{})
	go parkedGoroutine(release, exited)

	gs := waitGoroutines(selfMatcher, nil, short)
	require.Len(t, gs, 1)
	assert.Equal(t, selfPrefix+"TestWaitGoroutines", gs[0].createdBy)

	close(release)
	<-exited
	assert.Empty(t, waitGoroutines(selfMatcher, nil, 5*time.Second))
}

func TestCheckNoLibrary(t *testing.T) {
	// This binary does not link the library, so nothing can leak.
	var tb fakeTB
	Check(&tb)
	assert.Empty(t, tb.errors)
	Take().Check(&tb)
	assert.Empty(t, tb.errors)
}

func TestPollCallsAtLeastOnce(t *testing.T) {
	calls := 0
	poll(0, func() bool { calls++; return false })
	assert.Equal(t, 1, calls)

	calls = 0
	poll(time.Hour, func() bool { calls++; return calls == 3 })
	assert.Equal(t, 3, calls)
}
