// Errors returned by the client, all testable with errors.Is and errors.As.

package asynchttp

import (
	"errors"
	"fmt"
)

// ErrClientClosed is returned by every call made after Client.Close, and by
// calls still waiting for a connection when Close runs.
var ErrClientClosed = errors.New("asynchttp: client closed")

// ErrTooManyConns is returned when a connection cap (MaxTotalConns or
// MaxConnsPerHost) is reached and the caller may not wait for a slot
// (AcquireTimeout < 0), or waited AcquireTimeout in vain. In the latter case
// the error is a *TimeoutError that wraps ErrTooManyConns.
var ErrTooManyConns = errors.New("asynchttp: too many connections")

// ErrTooManyPending is returned when MaxPendingPerHost callers already wait
// for a connection to the same host.
var ErrTooManyPending = errors.New("asynchttp: too many callers waiting for a connection")

// ErrMalformedResponse is matched (errors.Is) by every *ProtocolError: the
// server sent something that is not valid HTTP/1.1.
var ErrMalformedResponse = errors.New("asynchttp: malformed response")

// ErrInvalidRequest is matched (errors.Is) by every *RequestError: the
// request was refused before a single byte of it was written.
var ErrInvalidRequest = errors.New("asynchttp: invalid request")

// ErrHeaderTooLarge is matched (errors.Is) by the *LimitError returned when
// a response header section exceeds MaxResponseHeaderBytes.
var ErrHeaderTooLarge = errors.New("asynchttp: response header too large")

// ErrBodyTooLarge is matched (errors.Is) by the *LimitError returned when a
// response body exceeds MaxResponseBodyBytes.
var ErrBodyTooLarge = errors.New("asynchttp: response body too large")

// ErrServerClosedConn reports that the server closed (or reset) a connection
// before sending any byte of the response. The client retries such a request
// once on a new connection when that is safe (see Client.Do); otherwise the
// error reaches the caller, wrapping the network error.
var ErrServerClosedConn = errors.New("asynchttp: server closed connection before any response byte")

// ProtocolError reports a malformed response. What names the part that was
// malformed; Err, when set, is the underlying cause.
type ProtocolError struct {
	What string // e.g. "status line", "chunk size", "Content-Length"
	Err  error
}

func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("asynchttp: malformed response: %s: %v", e.What, e.Err)
	}
	return "asynchttp: malformed response: " + e.What
}

// Unwrap returns the underlying cause, if any.
func (e *ProtocolError) Unwrap() error { return e.Err }

// Is reports whether target is ErrMalformedResponse.
func (e *ProtocolError) Is(target error) bool { return target == ErrMalformedResponse }

// RequestError reports a request refused before anything was written: an
// invalid method, URL, host or header.
//
// Through RoundTrip, the message is net/http's own for the same refusal
// (`unsupported protocol scheme "ftp"`, `net/http: invalid header field
// name "X\n"`, ...), because tools written for net/http match that text;
// errors.Is(err, ErrInvalidRequest) and errors.As hold either way.
type RequestError struct {
	Field  string // "method", "URL", "scheme", "host", "header name", "header value", "trailer", "body"
	Reason string

	msg string // net/http's wording, through RoundTrip
}

func (e *RequestError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return "asynchttp: invalid request: " + e.Field + ": " + e.Reason
}

// Is reports whether target is ErrInvalidRequest.
func (e *RequestError) Is(target error) bool { return target == ErrInvalidRequest }

// LimitError reports a response that broke a configured limit. The
// connection it arrived on is closed.
type LimitError struct {
	Limit string // the Config field: "MaxResponseHeaderBytes" or "MaxResponseBodyBytes"
	Max   int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("asynchttp: %s exceeded (%d)", e.Limit, e.Max)
}

// Is reports whether target is ErrHeaderTooLarge or ErrBodyTooLarge and
// matches the limit that was broken.
func (e *LimitError) Is(target error) bool {
	switch target {
	case ErrHeaderTooLarge:
		return e.Limit == "MaxResponseHeaderBytes"
	case ErrBodyTooLarge:
		return e.Limit == "MaxResponseBodyBytes"
	}
	return false
}

// TimeoutError reports a timeout. It satisfies net.Error with Timeout() ==
// true. Err is the cause: context.DeadlineExceeded when the caller's context
// expired (so errors.Is(err, context.DeadlineExceeded) holds), ErrTooManyConns
// when AcquireTimeout passed, or the network error of a DialTimeout,
// TLSHandshakeTimeout or ResponseHeaderTimeout.
type TimeoutError struct {
	Op  string // "acquire", "dial", "tls handshake", "write", "response header", "read body"
	Err error
}

func (e *TimeoutError) Error() string {
	return "asynchttp: timeout: " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true: this is a timeout.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports true, as net.Error asks of timeouts.
func (e *TimeoutError) Temporary() bool { return true }
