// Error kinds: a short name for each way a request can fail, for tables,
// and a one-line description for users.

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"

	"github.com/asynchttp/asynchttp"
)

// kindOf names how a request went wrong: "http 503" for an error status,
// a short kind for an error, "" when it went right. A handler's Abort is
// not an error: the tool aborts on purpose (a non-HTML body).
func kindOf(status int, err error) string {
	if err != nil && !errors.Is(err, asynchttp.ErrAborted) {
		return errKind(err)
	}
	if status >= 400 {
		return "http " + strconv.Itoa(status)
	}
	return ""
}

// errKind classifies err with errors.Is and errors.As, never by its text.
func errKind(err error) string {
	var (
		te     *asynchttp.TimeoutError
		dnsErr *net.DNSError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, asynchttp.ErrHostUnavailable):
		return "breaker"
	case errors.Is(err, asynchttp.ErrRateLimited):
		return "rate limited"
	case errors.Is(err, asynchttp.ErrTooManyPending):
		return "too many pending"
	case errors.Is(err, asynchttp.ErrTooManyConns):
		if errors.As(err, &te) {
			return "acquire timeout"
		}
		return "pool full"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &te), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, asynchttp.ErrServerClosedConn):
		return "server closed"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, asynchttp.ErrMalformedResponse):
		return "malformed"
	case errors.Is(err, asynchttp.ErrHeaderTooLarge), errors.Is(err, asynchttp.ErrBodyTooLarge):
		return "too large"
	case errors.Is(err, asynchttp.ErrInvalidRequest):
		return "bad request"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected eof"
	case errors.Is(err, asynchttp.ErrClientClosed):
		return "client closed"
	}
	var xe *asynchttp.ProxyError
	if errors.As(err, &xe) {
		return "proxy"
	}
	var pe *asynchttp.PanicError
	if errors.As(err, &pe) {
		return "panic"
	}
	return "other"
}

// describe is a one-line explanation of err, met fetching from addr
// ("host:port"), for a user.
func describe(err error, addr string) string {
	switch k := errKind(err); k {
	case "refused":
		return "connection refused by " + addr + " (is a server listening there?)"
	case "dns":
		return "cannot resolve the host of " + addr + ": " + err.Error()
	case "other", "timeout", "acquire timeout", "malformed", "too large", "bad request", "breaker", "rate limited":
		return err.Error() // the library's message names the kind already
	default:
		return k + ": " + err.Error()
	}
}
