// Request: a reusable HTTP/1.1 request, its validation and its encoding.

package asynchttp

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http/httpguts"
)

// Request is an HTTP/1.1 request. Get one with AcquireRequest and give it
// back with ReleaseRequest; it may be reused after Reset. A Request is not
// safe for concurrent use, and must not be changed while a call sends it.
type Request struct {
	// Header holds the fields written after Host, in this order.
	// Content-Length and Transfer-Encoding fields here are ignored: framing
	// comes from the body. A Host field here replaces the host of the URL
	// in the Host header (SetHost wins over it). A "Connection: close"
	// field makes the connection close after the response.
	Header Header

	method       string
	uri          string
	hostOverride string

	body       []byte
	bodyStream io.Reader
	bodySize   int64
	getBody    func() (io.ReadCloser, error)
	bodyUsed   bool        // writeBody has read from bodyStream
	bodyClosed atomic.Bool // bodyStream has been closed: it is closed once
	connClose  bool

	// Set by RoundTrip from an http.Request.
	target  requestTarget // the request-target's form
	opaque  string        // CONNECT's target from URL.Opaque, when set
	trailer http.Header   // sent after a chunked body, read at its end

	// Set by prepare.
	prepared   bool
	tls        bool
	host       string // host name or IP, no brackets, ASCII (IDNA applied)
	port       int
	hostHeader string // Host header value from the URL or SetHost
	path       string // from the URI, "" means "/"
	query      string // without '?', meaningful if hasQuery
	hasQuery   bool
	asciiPath  bool   // path and query hold no byte >= 0x80
	hasAuth    bool   // write authBuf as "Authorization: Basic ..."
	keyBuf     []byte // hostKey

	// What parseURI found for parsedURI, kept while the URL is unchanged.
	uriParsed     bool
	parsedURI     string
	urlHostHeader string

	// Set by the client for one exchange.
	proxy     *url.URL // the proxy chosen by Config.Proxy, or nil
	viaProxy  bool     // write the absolute-form target, for a plain HTTP proxy
	proxyAuth string   // "Basic ..." for Proxy-Authorization, or ""
	authBuf   []byte   // base64 credentials
	scratch   []byte   // decoding userinfo
	one       [1]byte
}

var requestPool = sync.Pool{New: func() any { return new(Request) }}

// AcquireRequest returns an empty Request from a pool. Give it back with
// ReleaseRequest when the call that used it has returned.
func AcquireRequest() *Request { return requestPool.Get().(*Request) }

// ReleaseRequest resets r and puts it back in the pool. r must not be used
// afterwards.
func ReleaseRequest(r *Request) {
	r.Reset()
	requestPool.Put(r)
}

// maxPooledBody caps the body buffer kept by a reset Request or Response,
// so one huge body does not pin memory in a pool.
const maxPooledBody = 1 << 20

// Reset makes r empty (method GET, no URI, no header, no body), keeping its
// buffers. It does not close a body stream.
func (r *Request) Reset() {
	r.Header.Reset()
	r.method, r.uri, r.hostOverride = "", "", ""
	if cap(r.body) > maxPooledBody {
		r.body = nil
	}
	r.body = r.body[:0]
	r.setStream(nil, 0)
	r.connClose = false
	r.target, r.opaque, r.trailer = targetOrigin, "", nil
	r.clearPrepared()
	r.uriParsed, r.parsedURI, r.urlHostHeader = false, "", ""
}

func (r *Request) clearPrepared() {
	r.prepared, r.tls, r.host, r.port, r.hostHeader = false, false, "", 0, ""
	r.path, r.query, r.hasQuery, r.asciiPath, r.hasAuth = "", "", false, false, false
	r.keyBuf, r.authBuf = r.keyBuf[:0], r.authBuf[:0]
	r.proxy, r.viaProxy, r.proxyAuth = nil, false, ""
}

// SetRequestURI sets the absolute URL to request,
// "http[s]://[user:pass@]host[:port][/path][?query][#fragment]". It is
// checked when the request is sent.
func (r *Request) SetRequestURI(uri string) {
	r.uri = uri
	r.prepared = false
}

// RequestURI returns the URL set by SetRequestURI.
func (r *Request) RequestURI() string { return r.uri }

// SetMethod sets the method; the default is GET. Methods are
// case-sensitive and sent as given.
func (r *Request) SetMethod(m string) { r.method = m }

// Method returns the method, "GET" if none was set.
func (r *Request) Method() string {
	if r.method == "" {
		return "GET"
	}
	return r.method
}

// SetHost sets the Host header value ("host" or "host:port"), overriding
// the URL and any Host field in Header. It does not change where the
// request is sent.
func (r *Request) SetHost(host string) { r.hostOverride = host }

// Host returns the value set by SetHost, or "".
func (r *Request) Host() string { return r.hostOverride }

// SetBody sets a buffered body, copying b; it can be resent on a retry. It
// replaces any body stream.
func (r *Request) SetBody(b []byte) {
	r.body = append(r.body[:0], b...)
	r.setStream(nil, 0)
}

// SetBodyString is SetBody for a string.
func (r *Request) SetBodyString(s string) {
	r.body = append(r.body[:0], s...)
	r.setStream(nil, 0)
}

// Body returns the buffered body. It is valid until r changes.
func (r *Request) Body() []byte { return r.body }

// SetBodyStream sets a body read from body when the request is sent. With
// size >= 0 it is sent with "Content-Length: size" and must yield exactly
// size bytes (otherwise the send fails); with size < 0 it is sent chunked.
// If body is an io.Closer it is closed once sent, whether or not sending
// succeeded. A stream cannot be resent on a retry unless SetGetBody is used.
// SetBodyStream clears the buffered body and any SetGetBody function.
func (r *Request) SetBodyStream(body io.Reader, size int64) {
	r.body = r.body[:0]
	r.setStream(body, size)
}

func (r *Request) setStream(body io.Reader, size int64) {
	r.bodyStream, r.bodySize, r.getBody, r.bodyUsed = body, size, nil, false
	r.bodyClosed.Store(false)
}

// requestTarget is the form of a request-target (RFC 9112 §3.2).
type requestTarget uint8

const (
	targetOrigin    requestTarget = iota // "/path?query" (or absolute-form through a proxy)
	targetAuthority                      // "host:port", for CONNECT
	targetAsterisk                       // "*", for a server-wide OPTIONS
)

// SetGetBody makes a stream body replayable: before a retry, the stream is
// replaced by a fresh one from f. Call it after SetBodyStream.
func (r *Request) SetGetBody(f func() (io.ReadCloser, error)) { r.getBody = f }

// SetConnectionClose asks for the connection to be closed after the
// response ("Connection: close").
func (r *Request) SetConnectionClose(v bool) { r.connClose = v }

// ConnectionClose reports whether SetConnectionClose(true) was called or
// Header holds a "Connection: close" field.
func (r *Request) ConnectionClose() bool {
	return r.connClose || r.Header.hasToken("Connection", "close")
}

// bodyReadError wraps an error returned by a request body stream (or a
// stream that did not match its declared size): the server is not to blame.
type bodyReadError struct{ err error }

func (e bodyReadError) Error() string { return "asynchttp: request body: " + e.err.Error() }
func (e bodyReadError) Unwrap() error { return e.err }

var (
	errBodyShort = &RequestError{Field: "body", Reason: "stream ended before its declared size"}
	errBodyLong  = &RequestError{Field: "body", Reason: "stream longer than its declared size"}
)

func reqErr(field, reason string) error { return &RequestError{Field: field, Reason: reason} }

// prepare parses the URI and validates the method, host, header and body
// settings. It must succeed before any byte is written. Every error is a
// *RequestError. It does not allocate for an ASCII URL on a reused Request.
func (r *Request) prepare() error {
	r.prepared = false
	r.proxy, r.viaProxy, r.proxyAuth = nil, false, ""
	// A Request sent again with the same URL (the hot path) keeps what
	// parseURI found; everything else is checked every time.
	if !r.uriParsed || r.parsedURI != r.uri {
		r.clearPrepared()
		r.uriParsed = false
		if err := r.parseURI(); err != nil {
			return err
		}
		r.parsedURI, r.urlHostHeader, r.uriParsed = r.uri, r.hostHeader, true
	}
	r.hostHeader = r.urlHostHeader
	if !validToken(r.Method()) {
		return reqErr("method", "not a token")
	}
	if r.hostOverride != "" {
		host, port, bracket, err := splitHostPort(r.hostOverride)
		if err != nil {
			return err
		}
		hh := r.hostOverride
		if isASCII(host) {
			if err := checkHost(host, bracket); err != nil {
				return err
			}
		} else {
			a, err := toASCIIHost(host)
			if err != nil {
				return err
			}
			hh = a
			if port != "" {
				hh += ":" + port
			}
		}
		r.hostHeader = hh
	}
	if !httpguts.ValidHostHeader(r.hostHeader) {
		return reqErr("host", "invalid Host header")
	}
	for i := range r.Header.fields {
		k, v := r.Header.nameAt(i), r.Header.valueAt(i)
		if !validToken(k) {
			return reqErr("header name", "not a token")
		}
		if !validFieldValue(v) {
			return reqErr("header value", "contains a control byte (CR, LF, NUL, ...)")
		}
		if r.hostOverride == "" && equalFoldBytes(k, "Host") && !validHostField(v) {
			return reqErr("host", "invalid Host field")
		}
	}
	if r.bodyStream == nil && r.bodySize != 0 {
		return reqErr("body", "stream is nil")
	}
	r.prepared = true
	return nil
}

// hostKey returns "scheme://host:port" with scheme and host lowercased and
// the port explicit: the pool key. Valid until the next prepare.
func (r *Request) hostKey() []byte { return r.keyBuf }

// dialAddr returns "host:port" (an IPv6 host in brackets) for net.Dial.
func (r *Request) dialAddr() string {
	n := len("http://")
	if r.tls {
		n++
	}
	return string(r.keyBuf[n:])
}

// isTLS reports whether the scheme is https.
func (r *Request) isTLS() bool { return r.tls }

// serverName returns the host name, lowercased, without port or brackets.
func (r *Request) serverName() string { return strings.ToLower(r.host) }

// isIdempotent reports whether the request may be sent twice: its method is
// idempotent, or it carries an Idempotency-Key (or X-Idempotency-Key) field.
func (r *Request) isIdempotent() bool {
	switch r.Method() {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return r.Header.Has("Idempotency-Key") || r.Header.Has("X-Idempotency-Key")
}

// isHead reports whether the method is HEAD.
func (r *Request) isHead() bool { return r.method == "HEAD" }

// canReplay reports whether the body can be sent again: it is buffered (or
// absent), or it is a stream with a GetBody function.
func (r *Request) canReplay() bool { return r.bodyStream == nil || r.getBody != nil }

// rewindBody prepares the body for a retry. A stream already read is
// replaced by a fresh one from the GetBody function; a buffered body needs
// nothing.
func (r *Request) rewindBody() error {
	if r.bodyStream == nil || !r.bodyUsed {
		return nil
	}
	if r.getBody == nil {
		return reqErr("body", "stream cannot be replayed")
	}
	rc, err := r.getBody()
	if err != nil {
		return bodyReadError{err}
	}
	if rc == nil {
		return bodyReadError{errors.New("GetBody returned nil")}
	}
	r.bodyStream, r.bodyUsed = rc, false
	r.bodyClosed.Store(false)
	return nil
}

// closeBodyStream closes the body stream if it is an io.Closer. The client
// calls it when it gives up on a request before writeBody ran, so that the
// stream is always closed.
// It may be called from the goroutine sending the body and from the
// caller's at once (the caller stopping a send): the stream is closed once.
func (r *Request) closeBodyStream() {
	if c, ok := r.bodyStream.(io.Closer); ok && r.bodyClosed.CompareAndSwap(false, true) {
		c.Close()
	}
}
