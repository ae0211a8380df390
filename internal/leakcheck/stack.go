// Parsing of runtime.Stack dumps and the rule that says which goroutines
// belong to the library.

package leakcheck

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
)

const (
	// libraryPrefix starts every frame of a function in the library
	// package (and only those: "asynchttp/internal/..." and
	// "asynchttp_test." do not match).
	libraryPrefix = "github.com/asynchttp/asynchttp."
	// selfPrefix starts every frame of this package.
	selfPrefix = "github.com/asynchttp/asynchttp/internal/leakcheck."
)

// testFrames start frames that mark a goroutine as the test framework's:
// a running test, benchmark or fuzz target, or the main test goroutine.
var testFrames = []string{
	"testing.tRunner",
	"testing.(*M).",
	"testing.runFuzz", // runFuzzTests, runFuzzing
	"testing.fRunner",
}

// libMatcher is the rule Main, Check and Snapshot.Check apply.
var libMatcher = matcher{
	prefix: libraryPrefix,
	ignore: append(append([]string(nil), testFrames...), selfPrefix),
}

// goroutine is one block of a runtime.Stack(buf, true) dump.
type goroutine struct {
	id        uint64
	state     string   // e.g. "chan receive" or "select, 2 minutes"
	funcs     []string // frame lines, innermost first, arguments kept
	createdBy string   // function that ran the go statement, if shown
	stack     string   // the whole block, for reports
}

// allStacks returns the stacks of all goroutines, growing its buffer until
// the dump fits.
func allStacks() []byte {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// parseStacks splits a runtime.Stack dump into goroutines. Blocks that do
// not start with a "goroutine N [state]:" header are skipped.
func parseStacks(dump []byte) []goroutine {
	var gs []goroutine
	for _, block := range bytes.Split(dump, []byte("\n\n")) {
		block = bytes.Trim(block, "\n")
		if g, ok := parseGoroutine(string(block)); ok {
			gs = append(gs, g)
		}
	}
	return gs
}

func parseGoroutine(block string) (goroutine, bool) {
	header, rest, _ := strings.Cut(block, "\n")
	id, state, ok := parseHeader(header)
	if !ok {
		return goroutine{}, false
	}
	g := goroutine{id: id, state: state, stack: block}
	for line := range strings.SplitSeq(rest, "\n") {
		switch {
		case line == "" || line[0] == '\t' || line[0] == ' ':
			// File:line of the frame above, or an elision note.
		case strings.HasPrefix(line, "..."):
			// "...additional frames elided..."
		case strings.HasPrefix(line, "created by "):
			fn := strings.TrimPrefix(line, "created by ")
			fn, _, _ = strings.Cut(fn, " in goroutine ")
			g.createdBy = fn
		default:
			g.funcs = append(g.funcs, line)
		}
	}
	return g, true
}

// parseHeader parses "goroutine 7 [chan receive]:", tolerating extra fields
// between the ID and the state (as GOTRACEBACK=system adds).
func parseHeader(line string) (id uint64, state string, ok bool) {
	rest, found := strings.CutPrefix(line, "goroutine ")
	if !found || !strings.HasSuffix(rest, "]:") {
		return 0, "", false
	}
	num, rest, _ := strings.Cut(rest, " ")
	id, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, "", false
	}
	open := strings.IndexByte(rest, '[')
	if open < 0 {
		return 0, "", false
	}
	return id, rest[open+1 : len(rest)-len("]:")], true
}

// matcher decides which goroutines a leak check is about. It is a value so
// tests can aim it at a package of their own.
type matcher struct {
	prefix string   // frame prefix of the package being checked
	ignore []string // frame prefixes that exempt a goroutine
}

// owns reports whether g runs, or was started by, code of m.prefix and is not
// exempt: a goroutine with any frame under an ignore prefix is the test
// framework's (or the checker's own), even if it calls into the package.
func (m matcher) owns(g goroutine) bool {
	hit := strings.HasPrefix(g.createdBy, m.prefix)
	for _, fn := range g.funcs {
		for _, ig := range m.ignore {
			if strings.HasPrefix(fn, ig) {
				return false
			}
		}
		if strings.HasPrefix(fn, m.prefix) {
			hit = true
		}
	}
	return hit
}

// leaked returns the goroutines m owns whose IDs are not in known (nil known
// means none is known).
func (m matcher) leaked(gs []goroutine, known map[uint64]bool) []goroutine {
	var out []goroutine
	for _, g := range gs {
		if !known[g.id] && m.owns(g) {
			out = append(out, g)
		}
	}
	return out
}

// formatGoroutines joins the stacks of gs for a failure message.
func formatGoroutines(gs []goroutine) string {
	var b strings.Builder
	for i, g := range gs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(g.stack)
	}
	return b.String()
}
