// Command asynchttp is the command-line face of the asynchttp pool: an
// embedded demo crawl (no arguments), and the subcommands get, crawl and
// bench, each built on the library's public API alone.
//
// Usage:
//
//	asynchttp                       run the embedded demo (local servers only)
//	asynchttp demo  [flags]         the same, with its knobs
//	asynchttp get   [flags] URL...  fetch URLs concurrently
//	asynchttp crawl [flags] URL...  breadth-first crawl of the given sites
//	asynchttp bench [flags] URL     load generator: requests/s and latencies
//
// Every subcommand takes -h. Ctrl-C stops a run cleanly and still prints
// its summary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1   // the run went, but failed (nothing succeeded, or a get failed)
	exitUsage       = 2   // bad flag, bad URL, bad argument
	exitInterrupted = 130 // Ctrl-C, after the summary
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first Ctrl-C, a second one kills at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `asynchttp: a pooled HTTP/1.1 client with a total and a per-host connection cap.

Usage:
  asynchttp                       run the embedded demo: 16 local hosts on 127.0.0.1, crawled
  asynchttp demo  [flags]         the demo, with its knobs (-pages, -hosts, caps, ...)
  asynchttp get   [flags] URL...  fetch URLs concurrently, one line each
  asynchttp crawl [flags] URL...  breadth-first crawl of the given sites, per-host table
  asynchttp bench [flags] URL     load generator: requests/s, latency histogram, statuses

Run "asynchttp <command> -h" for the flags of a command. Flags named after a
Config field (-max-total-conns, -idle-timeout, ...) set that field, with the
library's defaults. Ctrl-C stops a run and still prints its summary.
`

// run is the whole program: it parses args, runs one command under ctx and
// returns the exit code. Tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return runDemo(ctx, nil, stdout, stderr)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "get":
		return runGet(ctx, rest, stdout, stderr)
	case "crawl":
		return runCrawl(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if len(cmd) > 0 && cmd[0] == '-' {
		// Flags with no command: they are the demo's.
		return runDemo(ctx, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "asynchttp: unknown command %q (want demo, get, crawl or bench; see asynchttp -h)\n", cmd)
	return exitUsage
}

// usageError is a mistake in the command line: reported in one line, exit
// code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// parseFlags parses args with fs. It returns (done, code): done when the
// command must stop now (help printed, or an error reported).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (bool, int) {
	fs.SetOutput(io.Discard) // errors are reported in one line below
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return true, exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "asynchttp %s: %v (see asynchttp %s -h)\n", fs.Name(), err, fs.Name())
		return true, exitUsage
	}
	return false, exitOK
}

// newFlagSet returns a FlagSet whose usage prints head, then the flags.
func newFlagSet(name, head string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, head)
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}
