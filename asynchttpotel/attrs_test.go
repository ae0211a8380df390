// Host keys, error.type and the per-server sums of pool counts.

package asynchttpotel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
)

func TestParseHostSplitsHostKeys(t *testing.T) {
	for _, tt := range []struct {
		name, key string
		want      server
		ok        bool
	}{
		{"ipv4", "http://127.0.0.1:8080", server{"http", "127.0.0.1", 8080}, true},
		{"name", "https://api.example:443", server{"https", "api.example", 443}, true},
		{"ipv6", "http://[::1]:80", server{"http", "::1", 80}, true},
		{"through a proxy", "http://10.0.0.7:8080 via http://127.0.0.1:3128 as bob#1x2y", server{"http", "10.0.0.7", 8080}, true},
		{"no scheme", "127.0.0.1:8080", server{}, false},
		{"empty scheme", "://127.0.0.1:8080", server{}, false},
		{"no port", "http://127.0.0.1", server{}, false},
		{"port not a number", "http://127.0.0.1:http", server{}, false},
		{"port out of range", "http://127.0.0.1:65536", server{}, false},
		{"port zero", "http://127.0.0.1:0", server{}, false},
		{"no host", "http://:80", server{}, false},
		{"empty", "", server{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseHost(tt.key)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	// What cannot be parsed is still reported, as server.address alone.
	assert.Equal(t, server{address: "weird"}, hostServer("weird"))
}

type typedErr struct{}

func (typedErr) Error() string { return "typed" }

type classifiedErr struct{}

func (classifiedErr) Error() string     { return "classified" }
func (classifiedErr) ErrorType() string { return "my_error" }

func TestErrorTypeIsLowCardinality(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	for _, tt := range []struct {
		name   string
		status int
		err    error
		want   string
	}{
		{"success", 200, nil, ""},
		{"redirect", 302, nil, ""},
		{"client error status", 404, nil, "404"},
		{"server error status", 503, nil, "503"},
		{"timeout error", 0, &asynchttp.TimeoutError{Op: "dial", Err: errors.New("i/o timeout")}, ErrTypeTimeout},
		{"acquire timeout", 0, &asynchttp.TimeoutError{Op: "acquire", Err: asynchttp.ErrTooManyConns}, ErrTypeTimeout},
		{"deadline", 0, fmt.Errorf("x: %w", context.DeadlineExceeded), ErrTypeTimeout},
		{"canceled", 0, context.Canceled, ErrTypeCanceled},
		{"client closed", 0, asynchttp.ErrClientClosed, ErrTypeClientClosed},
		{"too many conns", 0, asynchttp.ErrTooManyConns, ErrTypeTooManyConns},
		{"too many pending", 0, asynchttp.ErrTooManyPending, ErrTypeTooManyPending},
		{"invalid request", 0, &asynchttp.RequestError{Field: "header name", Reason: "bad"}, ErrTypeInvalidRequest},
		{"header too large", 0, &asynchttp.LimitError{Limit: "MaxResponseHeaderBytes", Max: 1}, ErrTypeHeaderTooLarge},
		{"body too large", 200, &asynchttp.LimitError{Limit: "MaxResponseBodyBytes", Max: 1}, ErrTypeBodyTooLarge},
		{"malformed", 0, &asynchttp.ProtocolError{What: "status line"}, ErrTypeMalformedResponse},
		{"server closed", 0, fmt.Errorf("%w: %w", asynchttp.ErrServerClosedConn, syscall.ECONNRESET), ErrTypeServerClosedConn},
		{"panic", 0, &asynchttp.PanicError{Value: "boom"}, ErrTypePanic},
		{"dns", 0, &net.DNSError{Err: "no such host", Name: "x.example", IsNotFound: true}, ErrTypeNameResolution},
		{"tls unknown authority", 0, fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), ErrTypeSecureConnection},
		{"tls verification", 0, &tls.CertificateVerificationError{Err: errors.New("bad")}, ErrTypeSecureConnection},
		{"tls alert", 0, tls.AlertError(40), ErrTypeSecureConnection},
		{"refused", 0, fmt.Errorf("asynchttp: dial: %w", opErr(syscall.ECONNREFUSED)), ErrTypeConnectionRefused},
		{"reset", 200, fmt.Errorf("asynchttp: read body: %w", opErr(syscall.ECONNRESET)), ErrTypeConnectionReset},
		{"unexpected eof", 200, fmt.Errorf("asynchttp: read body: %w", io.ErrUnexpectedEOF), ErrTypeResponseEnded},
		{"other net error", 0, opErr(syscall.EHOSTUNREACH), ErrTypeConnectionError},
		{"error with ErrorType", 0, fmt.Errorf("wrapped: %w", classifiedErr{}), "my_error"},
		{"typed error", 0, fmt.Errorf("wrapped: %w", typedErr{}), "github.com/asynchttp/asynchttp/asynchttpotel.typedErr"},
		{"plain error", 0, errors.New("something"), ErrTypeOther},
		{"wrapped plain error", 0, fmt.Errorf("a: %w", errors.New("b")), ErrTypeOther},
		// An error wins over the status: the response did not complete.
		{"error after a status", 503, context.Canceled, ErrTypeCanceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, errorType(tt.status, tt.err))
		})
	}
}

func TestPoolCountsSumKeysOfOneServer(t *testing.T) {
	st := asynchttp.Stats{Hosts: map[string]asynchttp.HostStats{
		"http://10.0.0.7:8080":                             {InUse: 1, Idle: 2, Dialing: 1, Waiting: 3},
		"http://10.0.0.7:8080 via http://127.0.0.1:3128":   {InUse: 4, Idle: 1},
		"https://10.0.0.7:8080":                            {Idle: 5},
		"http://[::1]:80 via http://127.0.0.1:3128 as u#1": {Waiting: 2},
	}}
	assert.Equal(t, map[server]counts{
		{"http", "10.0.0.7", 8080}:  {active: 5, idle: 3, dialing: 1, waiting: 3},
		{"https", "10.0.0.7", 8080}: {idle: 5},
		{"http", "::1", 80}:         {waiting: 2},
	}, poolCounts(st))
}

func TestPeerAddressIsTheIP(t *testing.T) {
	assert.Equal(t, "127.0.0.1", peerAddress(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}))
	assert.Equal(t, "::1", peerAddress(&net.TCPAddr{IP: net.IPv6loopback, Port: 80}))
	assert.Equal(t, "10.0.0.1", peerAddress(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}))
	assert.Equal(t, "/tmp/s.sock", peerAddress(&net.UnixAddr{Name: "/tmp/s.sock", Net: "unix"}))
	assert.Equal(t, "", peerAddress(nil))
	assert.Equal(t, "", peerAddress((*net.TCPAddr)(nil)))
}
