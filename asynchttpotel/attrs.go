// Attributes: the host key split into server.address, server.port and
// url.scheme; the method normalised; error.type from a request's end.

package asynchttpotel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/asynchttp/asynchttp"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// protocolVersion is network.protocol.version: asynchttp speaks HTTP/1.1
// (an HTTP/1.0 response on a pooled connection is reported as "1.1", as
// the conventions' connection metrics do).
const protocolVersion = "1.1"

// CloseReasonKey is the attribute of asynchttp.client.connection.closed:
// asynchttp.CloseReason.String(), e.g. "idle timeout".
const CloseReasonKey = attribute.Key("asynchttp.close_reason")

// server is a host key taken apart.
type server struct {
	scheme, address string
	port            int
}

// parseHost splits a host key, "scheme://host:port" (an IPv6 host in
// brackets), optionally followed by the proxy part of a pool key
// (" via ..."), which is dropped: server.address and server.port name the
// server behind any proxy. ok is false for anything else.
func parseHost(key string) (s server, ok bool) {
	scheme, rest, found := strings.Cut(key, "://")
	if !found || scheme == "" {
		return server{}, false
	}
	rest, _, _ = strings.Cut(rest, " ")
	host, port, err := net.SplitHostPort(rest)
	if err != nil || host == "" {
		return server{}, false
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return server{}, false
	}
	return server{scheme: scheme, address: host, port: p}, true
}

// attrs appends server.address, server.port and url.scheme. A host key
// that cannot be parsed (none that asynchttp makes) gives server.address
// as it is, with no port.
func (s server) attrs(kv []attribute.KeyValue) []attribute.KeyValue {
	kv = append(kv, semconv.ServerAddress(s.address))
	if s.port != 0 {
		kv = append(kv, semconv.ServerPort(s.port))
	}
	if s.scheme != "" {
		kv = append(kv, semconv.URLScheme(s.scheme))
	}
	return kv
}

func hostServer(key string) server {
	if s, ok := parseHost(key); ok {
		return s
	}
	return server{address: key}
}

// The error.type values for requests that failed without a response
// (documented in the README; the status code, as a string, is used for a
// response of 400 or more).
const (
	ErrTypeTimeout           = "timeout"                   // *asynchttp.TimeoutError, context.DeadlineExceeded, or a net.Error timeout
	ErrTypeCanceled          = "canceled"                  // context.Canceled
	ErrTypeClientClosed      = "client_closed"             // asynchttp.ErrClientClosed
	ErrTypeTooManyConns      = "too_many_conns"            // asynchttp.ErrTooManyConns (not waiting)
	ErrTypeTooManyPending    = "too_many_pending"          // asynchttp.ErrTooManyPending
	ErrTypeInvalidRequest    = "invalid_request"           // asynchttp.ErrInvalidRequest
	ErrTypeHeaderTooLarge    = "response_header_too_large" // asynchttp.ErrHeaderTooLarge
	ErrTypeBodyTooLarge      = "response_body_too_large"   // asynchttp.ErrBodyTooLarge
	ErrTypeMalformedResponse = "malformed_response"        // asynchttp.ErrMalformedResponse
	ErrTypeServerClosedConn  = "server_closed_connection"  // asynchttp.ErrServerClosedConn
	ErrTypePanic             = "panic"                     // *asynchttp.PanicError
	ErrTypeNameResolution    = "name_resolution_error"     // *net.DNSError
	ErrTypeSecureConnection  = "secure_connection_error"   // TLS: certificate verification, alerts, bad records
	ErrTypeConnectionRefused = "connection_refused"        // ECONNREFUSED
	ErrTypeConnectionReset   = "connection_reset"          // ECONNRESET
	ErrTypeResponseEnded     = "response_ended"            // io.ErrUnexpectedEOF, io.EOF
	ErrTypeConnectionError   = "connection_error"          // any other *net.OpError
	ErrTypeOther             = "_OTHER"                    // none of these, and no type name worth reporting
)

// errorType is error.type for a request that ended with status and err:
// empty when it succeeded (no error, status below 400).
func errorType(status int, err error) string {
	if err == nil {
		if status >= 400 {
			return strconv.Itoa(status)
		}
		return ""
	}
	var (
		te  *asynchttp.TimeoutError
		pe  *asynchttp.PanicError
		dns *net.DNSError
		op  *net.OpError
		ne  net.Error
	)
	switch {
	case errors.As(err, &te), errors.Is(err, context.DeadlineExceeded):
		return ErrTypeTimeout
	case errors.Is(err, context.Canceled):
		return ErrTypeCanceled
	case errors.Is(err, asynchttp.ErrClientClosed):
		return ErrTypeClientClosed
	case errors.Is(err, asynchttp.ErrTooManyPending):
		return ErrTypeTooManyPending
	case errors.Is(err, asynchttp.ErrTooManyConns):
		return ErrTypeTooManyConns
	case errors.Is(err, asynchttp.ErrInvalidRequest):
		return ErrTypeInvalidRequest
	case errors.Is(err, asynchttp.ErrHeaderTooLarge):
		return ErrTypeHeaderTooLarge
	case errors.Is(err, asynchttp.ErrBodyTooLarge):
		return ErrTypeBodyTooLarge
	case errors.Is(err, asynchttp.ErrMalformedResponse):
		return ErrTypeMalformedResponse
	case errors.Is(err, asynchttp.ErrServerClosedConn):
		return ErrTypeServerClosedConn
	case errors.As(err, &pe):
		return ErrTypePanic
	case errors.As(err, &dns):
		return ErrTypeNameResolution
	case isTLSError(err):
		return ErrTypeSecureConnection
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrTypeConnectionRefused
	case errors.Is(err, syscall.ECONNRESET):
		return ErrTypeConnectionReset
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrTypeResponseEnded
	case errors.As(err, &ne) && ne.Timeout():
		return ErrTypeTimeout
	case errors.As(err, &op):
		return ErrTypeConnectionError
	}
	return typeName(err)
}

// typeName is the error's own ErrorType() or its Go type name, as
// semconv.ErrorType gives it; "_OTHER" for the standard library's
// anonymous error types, whose names say nothing about the failure.
func typeName(err error) string {
	s := semconv.ErrorType(err).Value.AsString()
	switch s {
	case "", "*errors.errorString", "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		return ErrTypeOther
	}
	return s
}

func isTLSError(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		rh  tls.RecordHeaderError
		al  tls.AlertError
		ech *tls.ECHRejectionError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
	)
	return errors.As(err, &cv) || errors.As(err, &rh) || errors.As(err, &al) ||
		errors.As(err, &ech) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}
