// RoundTrip's net/http fidelity: the requests net/http refuses (in its
// words) and the error values it returns.

package asynchttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http/httpguts"
)

// checkHTTPRequest refuses what net/http's Transport refuses before it
// dials, with its error text: tools written for net/http (retry policies,
// proxies) tell a permanent error from a passing one by that text.
func checkHTTPRequest(hreq *http.Request) error {
	u := hreq.URL
	if u == nil {
		return &RequestError{Field: "URL", Reason: "missing", msg: "http: nil Request.URL"}
	}
	if hreq.Header == nil {
		return &RequestError{Field: "header", Reason: "missing", msg: "http: nil Request.Header"}
	}
	isHTTP := u.Scheme == "http" || u.Scheme == "https"
	if isHTTP {
		if err := checkFields(hreq.Header, "header"); err != nil {
			return err
		}
		if err := checkFields(hreq.Trailer, "trailer"); err != nil {
			return err
		}
	}
	if !isHTTP {
		return &RequestError{Field: "scheme", Reason: "not http or https",
			msg: fmt.Sprintf("unsupported protocol scheme %q", u.Scheme)}
	}
	if hreq.Method != "" && !validToken([]byte(hreq.Method)) {
		return &RequestError{Field: "method", Reason: "not a token",
			msg: fmt.Sprintf("net/http: invalid method %q", hreq.Method)}
	}
	if u.Host == "" {
		return &RequestError{Field: "URL", Reason: "no host", msg: "http: no Host in request URL"}
	}
	for k := range hreq.Trailer {
		switch k := http.CanonicalHeaderKey(k); k {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return &RequestError{Field: "trailer", Reason: "forbidden name " + k,
				msg: fmt.Sprintf("invalid Trailer key %q", k)}
		}
	}
	if hreq.Method == http.MethodConnect && u.Path == "" && u.Opaque != "" && !validTarget(u.Opaque) {
		return &RequestError{Field: "URL", Reason: "CONNECT target contains a space or control byte"}
	}
	return nil
}

// checkFields checks the names and values of h as net/http does; what
// is "header" or "trailer".
func checkFields(h http.Header, what string) error {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return &RequestError{Field: what + " name", Reason: "not a token",
				msg: fmt.Sprintf("net/http: invalid %s field name %q", what, k)}
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				// Like net/http, the value stays out of the message: it
				// may be a secret.
				return &RequestError{Field: what + " value", Reason: "contains a control byte (CR, LF, NUL, ...)",
					msg: fmt.Sprintf("net/http: invalid %s field value for %q", what, k)}
			}
		}
	}
	return nil
}

func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return s != ""
}

// httpErr gives an error of RoundTrip the identity net/http gives it, for
// callers that compare with ==, type-assert or match text: the end of the
// request's context is the context's own error (or its cause); a failed
// TLS handshake is the crypto/tls error itself (such as a
// *tls.CertificateVerificationError); a failed dial is the dialer's error
// (a *net.OpError). Everything else keeps its asynchttp type.
func httpErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Cause(ctx)) || isTimeout(err)) {
		return context.Cause(ctx)
	}
	var te *TimeoutError
	if errors.As(err, &te) && errors.Is(te.Err, context.DeadlineExceeded) {
		// The deadline fired on the socket a moment before the context
		// marked itself done.
		return context.DeadlineExceeded
	}
	var de *dialError
	if errors.As(err, &de) && !errors.Is(err, ErrClientClosed) {
		return de.err
	}
	return err
}

// bodyHTTPErr is httpErr for a response body: a body cut short reads
// io.ErrUnexpectedEOF itself.
func bodyHTTPErr(ctx context.Context, err error) error {
	if err == io.EOF {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) && ctx.Err() == nil {
		return io.ErrUnexpectedEOF
	}
	return httpErr(ctx, err)
}

// dialError is a failed dial or TLS handshake that is not a timeout: the
// error of the dialer (or crypto/tls) with the operation and address.
type dialError struct {
	op, addr string
	err      error
}

func (e *dialError) Error() string { return "asynchttp: " + e.op + " " + e.addr + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// isProtocolSwitch reports whether a 101 response's header switches
// protocols: an Upgrade field and "upgrade" in Connection, as net/http
// requires before it hands the connection over.
func isProtocolSwitch(h *Header) bool {
	return len(h.Peek("Upgrade")) > 0 && h.hasToken("Connection", "upgrade")
}

// upgrade hands the conn of a 101 Switching Protocols response to the
// caller: the response body is the connection itself (an
// io.ReadWriteCloser, and a net.Conn), with the bytes already read past the
// head first. The conn leaves the pool now: its slots are free and it
// counts as closed with CloseUpgraded. The request's context no longer
// applies to it.
func (c *Client) upgrade(ctx context.Context, hreq *http.Request, ex exchange, resp *Response) (*http.Response, error) {
	cn := ex.cn
	ex.sender.finish() // an upgrade request's body, if any, has gone out
	if ex.stop != nil && !ex.stop() {
		// The context ended as the 101 arrived: its interrupt may have
		// put a past deadline on the socket.
		c.pool.closeConn(cn, CloseCanceled)
		return nil, httpErr(ctx, ctxErr(ctx, "read response"))
	}
	if err := cn.nc.SetDeadline(time.Time{}); err != nil {
		c.pool.closeConn(cn, CloseError)
		return nil, err
	}
	cn.Requests++
	hr := &http.Response{
		Status:        statusLine(resp),
		StatusCode:    resp.StatusCode,
		Proto:         "HTTP/1.1",
		ProtoMajor:    resp.ProtoMajor,
		ProtoMinor:    resp.ProtoMinor,
		Header:        toHTTPHeader(&resp.Header),
		ContentLength: 0,
		Request:       hreq,
	}
	if tc, ok := cn.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		hr.TLS = &st
	}
	nc := cn.nc
	br := c.pool.handOver(cn)
	hr.Body = &upgradedConn{Conn: nc, br: br}
	return hr, nil
}

// upgradedConn is the body of a 101 response: the connection, its bytes
// already buffered read first. Writes go straight to the socket; Close
// closes it; CloseWrite half-closes it where the connection can.
type upgradedConn struct {
	net.Conn
	br *connReader // until its buffered bytes are read; then nil
}

var _ io.ReadWriteCloser = (*upgradedConn)(nil)

func (u *upgradedConn) Read(p []byte) (int, error) {
	if u.br != nil {
		if n := u.br.Buffered(); n > 0 {
			return u.br.Read(p[:min(len(p), n)])
		}
		putReader(u.br)
		u.br = nil
	}
	return u.Conn.Read(p)
}

// CloseWrite shuts down the writing side (a TCP FIN, or a TLS
// close_notify), when the connection supports it.
func (u *upgradedConn) CloseWrite() error {
	if cw, ok := u.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("CloseWrite: %w", http.ErrNotSupported)
}
