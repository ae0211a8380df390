// Parsing goroutine dumps and telling the library's goroutines from the
// rest.

package leakcheck

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cannedDump imitates runtime.Stack(buf, true): a test goroutine, the main
// test goroutine, a library reaper, a goroutine the library started with
// no frame of its own, a server conn goroutine outside the library, a
// goroutine of an external test package, a library goroutine yet to run
// and one of a subpackage.
const cannedDump = `goroutine 21 [running]:
github.com/asynchttp/asynchttp/internal/leakcheck.allStacks()
	/src/internal/leakcheck/stack.go:50 +0x45
github.com/asynchttp/asynchttp.TestClose(0xc000103a00)
	/src/client_test.go:12 +0x2c
testing.tRunner(0xc000103a00, 0x6f0b28)
	/usr/local/go/src/testing/testing.go:1934 +0xea
created by testing.(*T).Run in goroutine 1
	/usr/local/go/src/testing/testing.go:1997 +0x465

goroutine 1 [chan receive]:
testing.(*T).Run(0xc000103860, {0x6c4d2e?, 0x0?}, 0x6f0b28)
	/usr/local/go/src/testing/testing.go:2005 +0x485
testing.runTests.func1(0xc000103860)
	/usr/local/go/src/testing/testing.go:2477 +0x37
testing.tRunner(0xc000103860, 0xc00012dc70)
	/usr/local/go/src/testing/testing.go:1934 +0xea
testing.runTests(0xc000010030, {0x8b6f60, 0x3, 0x3}, {0x0?, 0x0?, 0x8c3560?})
	/usr/local/go/src/testing/testing.go:2475 +0x4b4
testing.(*M).Run(0xc0000ac0a0)
	/usr/local/go/src/testing/testing.go:2337 +0x63a
github.com/asynchttp/asynchttp/internal/leakcheck.Main(0xc0000ac0a0)
	/src/internal/leakcheck/leakcheck.go:33 +0x25
github.com/asynchttp/asynchttp.TestMain(...)
	/src/main_test.go:7
main.main()
	_testmain.go:49 +0x9b

goroutine 34 [select, 2 minutes]:
github.com/asynchttp/asynchttp.(*Client).reapIdle(0xc0001a2000)
	/src/idle.go:88 +0x1b0
created by github.com/asynchttp/asynchttp.New in goroutine 21
	/src/client.go:40 +0x1e5

goroutine 35 [IO wait]:
internal/poll.runtime_pollWait(0x7f2a4c1e0e00, 0x72)
	/usr/local/go/src/runtime/netpoll.go:351 +0x85
io.Copy(...)
	/usr/local/go/src/io/io.go:388
created by github.com/asynchttp/asynchttp.(*conn).start in goroutine 34
	/src/conn.go:70 +0x99

goroutine 36 gp=0xc000007a40 m=nil [IO wait, locked to thread]:
net/http.(*conn).serve(0xc0001b4000, {0x702a10, 0xc0001a6000})
	/usr/local/go/src/net/http/server.go:2071 +0x71b
created by net/http.(*Server).Serve in goroutine 30
	/usr/local/go/src/net/http/server.go:3454 +0x485

goroutine 37 [chan send]:
github.com/asynchttp/asynchttp_test.TestExternal.func1()
	/src/external_test.go:20 +0x28
created by github.com/asynchttp/asynchttp_test.TestExternal in goroutine 21
	/src/external_test.go:19 +0x5a

goroutine 39 [runnable]:
github.com/asynchttp/asynchttp.New.gowrap1()
	/src/client.go:41
runtime.goexit({})
	/usr/local/go/src/runtime/asm_amd64.s:1771 +0x1
created by github.com/asynchttp/asynchttp.New in goroutine 21
	/src/client.go:41 +0xe5

goroutine 38 [semacquire]:
sync.runtime_SemacquireWaitGroup(0xc0001b6018?, 0x0?)
	/usr/local/go/src/runtime/sema.go:114 +0x2e
github.com/asynchttp/asynchttp/internal/testserver.(*Scripted).Close(0xc0001b6000)
	/src/internal/testserver/scripted.go:90 +0x46
...additional frames elided...
created by github.com/asynchttp/asynchttp/internal/testserver.NewScripted in goroutine 21
	/src/internal/testserver/scripted.go:50 +0x10a

not a goroutine block
`

func TestParseStacks(t *testing.T) {
	gs := parseStacks([]byte(cannedDump))
	require.Len(t, gs, 8)

	ids := make([]uint64, len(gs))
	states := make([]string, len(gs))
	for i, g := range gs {
		ids[i], states[i] = g.id, g.state
	}
	assert.Equal(t, []uint64{21, 1, 34, 35, 36, 37, 39, 38}, ids)
	assert.Equal(t, []string{"running", "chan receive", "select, 2 minutes", "IO wait",
		"IO wait, locked to thread", "chan send", "runnable", "semacquire"}, states)

	reaper := gs[2]
	assert.Equal(t, []string{"github.com/asynchttp/asynchttp.(*Client).reapIdle(0xc0001a2000)"}, reaper.funcs)
	assert.Equal(t, "github.com/asynchttp/asynchttp.New", reaper.createdBy)
	assert.True(t, strings.HasPrefix(reaper.stack, "goroutine 34 [select, 2 minutes]:\n"))
	assert.True(t, strings.HasSuffix(reaper.stack, "/src/client.go:40 +0x1e5"))

	assert.Empty(t, gs[1].createdBy)
	assert.Len(t, gs[1].funcs, 8)
	assert.Len(t, gs[7].funcs, 2, "elision note is not a frame")
}

func TestParseHeader(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		id       uint64
		state    string
		ok       bool
	}{
		{"plain", "goroutine 7 [chan receive]:", 7, "chan receive", true},
		{"duration", "goroutine 12 [select, 3 minutes]:", 12, "select, 3 minutes", true},
		{"nested brackets", "goroutine 9 [chan receive (nil chan)]:", 9, "chan receive (nil chan)", true},
		{"system fields", "goroutine 3 gp=0xc000 m=0 mp=0x8c [running]:", 3, "running", true},
		{"no state", "goroutine 3:", 0, "", false},
		{"bad id", "goroutine x [running]:", 0, "", false},
		{"not a header", "main.main()", 0, "", false},
		{"empty", "", 0, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, state, ok := parseHeader(tt.in)
			require.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.id, id)
			assert.Equal(t, tt.state, state)
		})
	}
}

func TestMatcherOwns(t *testing.T) {
	gs := parseStacks([]byte(cannedDump))
	byID := map[uint64]goroutine{}
	for _, g := range gs {
		byID[g.id] = g
	}
	for _, tt := range []struct {
		name string
		m    matcher
		id   uint64
		want bool
	}{
		{"test goroutine calling the library", libMatcher, 21, false},
		{"main test goroutine", libMatcher, 1, false},
		{"library reaper", libMatcher, 34, true},
		{"started by the library", libMatcher, 35, true},
		{"net/http conn", libMatcher, 36, false},
		{"external test package", libMatcher, 37, false},
		{"subpackage", libMatcher, 38, false},
		{"started by the library, not yet running", libMatcher, 39, true},
		{"external test package, own prefix", matcher{prefix: "github.com/asynchttp/asynchttp_test."}, 37, true},
		{"subpackage, own prefix", matcher{prefix: "github.com/asynchttp/asynchttp/internal/testserver."}, 38, true},
		{"no ignores", matcher{prefix: libraryPrefix}, 21, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, ok := byID[tt.id]
			require.True(t, ok)
			assert.Equal(t, tt.want, tt.m.owns(g))
		})
	}
}

func TestMatcherLeaked(t *testing.T) {
	gs := parseStacks([]byte(cannedDump))

	leaked := libMatcher.leaked(gs, nil)
	require.Len(t, leaked, 3)
	assert.Equal(t, uint64(34), leaked[0].id)
	assert.Equal(t, uint64(35), leaked[1].id)
	assert.Equal(t, uint64(39), leaked[2].id)

	leaked = libMatcher.leaked(gs, map[uint64]bool{34: true, 39: true})
	require.Len(t, leaked, 1)
	assert.Equal(t, uint64(35), leaked[0].id)

	msg := formatGoroutines(libMatcher.leaked(gs, nil))
	assert.Contains(t, msg, "goroutine 34 [select, 2 minutes]:")
	assert.Contains(t, msg, "goroutine 35 [IO wait]:")
	assert.NotContains(t, msg, "goroutine 21 [")
}

// TestPrefixes guards the hard-coded package paths against a rename.
func TestPrefixes(t *testing.T) {
	self := runtime.FuncForPC(reflect.ValueOf(Take).Pointer()).Name()
	assert.Equal(t, selfPrefix+"Take", self)
	assert.Equal(t, selfPrefix, strings.TrimSuffix(libraryPrefix, ".")+"/internal/leakcheck.")
}

func TestAllStacksHasSelf(t *testing.T) {
	gs := parseStacks(allStacks())
	require.NotEmpty(t, gs)
	assert.Equal(t, "running", gs[0].state, "the caller comes first")
	assert.True(t, strings.HasPrefix(gs[0].funcs[0], selfPrefix+"allStacks"), gs[0].stack)
}
