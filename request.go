// Request: a reusable HTTP/1.1 request, its validation and its encoding.

package asynchttp

import (
	"bufio"
	"encoding/base64"
	"errors"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/idna"
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
	bodyUsed   bool // writeBody has read from bodyStream
	connClose  bool

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
	r.bodyStream, r.bodySize, r.getBody, r.bodyUsed = nil, 0, nil, false
	r.connClose = false
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
	r.bodyStream, r.bodySize, r.getBody, r.bodyUsed = nil, 0, nil, false
}

// SetBodyString is SetBody for a string.
func (r *Request) SetBodyString(s string) {
	r.body = append(r.body[:0], s...)
	r.bodyStream, r.bodySize, r.getBody, r.bodyUsed = nil, 0, nil, false
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
	r.bodyStream, r.bodySize, r.getBody, r.bodyUsed = body, size, nil, false
}

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

// parseURI fills the prepared fields from r.uri.
func (r *Request) parseURI() error {
	u := r.uri
	i := strings.Index(u, "://")
	if i < 0 {
		return reqErr("URL", "not an absolute http or https URL")
	}
	switch scheme := u[:i]; {
	case strings.EqualFold(scheme, "http"):
	case strings.EqualFold(scheme, "https"):
		r.tls = true
	default:
		return reqErr("URL", "scheme is not http or https")
	}
	rest := u[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, rest := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if err := r.setUserinfo(authority[:at]); err != nil {
			return err
		}
		authority = authority[at+1:]
	}
	host, port, bracket, err := splitHostPort(authority)
	if err != nil {
		return err
	}
	r.hostHeader = authority
	if port == "" {
		r.hostHeader = authority[:len(host)+2*b2i(bracket)]
	}
	if !isASCII(host) {
		a, err := toASCIIHost(host)
		if err != nil {
			return err
		}
		host = a
		r.hostHeader = a
		if port != "" {
			r.hostHeader += ":" + port
		}
	} else if err := checkHost(host, bracket); err != nil {
		return err
	}
	r.host = host
	if port == "" {
		r.port = 80
		if r.tls {
			r.port = 443
		}
	} else {
		r.port, _ = strconv.Atoi(port) // checked by splitHostPort
	}

	if h := strings.IndexByte(rest, '#'); h >= 0 {
		rest = rest[:h]
	}
	r.path = rest
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		r.path, r.query, r.hasQuery = rest[:q], rest[q+1:], true
	}
	r.asciiPath = true
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c <= ' ' || c == 0x7f {
			return reqErr("URL", "path or query contains a space or control byte")
		}
		if c >= 0x80 {
			r.asciiPath = false
		}
	}

	// hostKey: scheme://host:port, lowercased.
	k := r.keyBuf[:0]
	if r.tls {
		k = append(k, "https://"...)
	} else {
		k = append(k, "http://"...)
	}
	if bracket {
		k = append(k, '[')
	}
	for i := 0; i < len(host); i++ {
		k = append(k, lowerASCII(host[i]))
	}
	if bracket {
		k = append(k, ']')
	}
	k = append(k, ':')
	r.keyBuf = strconv.AppendInt(k, int64(r.port), 10)
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// setUserinfo turns "user[:password]" (percent-encoded) into base64
// credentials for a Basic Authorization field.
func (r *Request) setUserinfo(ui string) error {
	if ui == "" {
		return nil
	}
	d := r.scratch[:0]
	for i := 0; i < len(ui); i++ {
		c := ui[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return reqErr("URL", "userinfo contains a space or control byte")
		case c == '%':
			if i+2 >= len(ui) || !isHex(ui[i+1]) || !isHex(ui[i+2]) {
				return reqErr("URL", "bad percent-encoding in userinfo")
			}
			c = unhex(ui[i+1])<<4 | unhex(ui[i+2])
			i += 2
		}
		d = append(d, c)
	}
	if strings.IndexByte(ui, ':') < 0 {
		d = append(d, ':') // "user" alone means an empty password
	}
	r.scratch = d
	r.authBuf = base64.StdEncoding.AppendEncode(r.authBuf[:0], d)
	r.hasAuth = true
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// splitHostPort splits "host", "host:port", "[ipv6]" or "[ipv6]:port". The
// port, if present, is checked to be a number in 1..65535; an empty port
// ("host:") counts as none.
func splitHostPort(s string) (host, port string, bracket bool, err error) {
	if s == "" {
		return "", "", false, reqErr("host", "empty")
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false, reqErr("host", "missing ']'")
		}
		host, s, bracket = s[1:end], s[end+1:], true
		if s != "" && s[0] != ':' {
			return "", "", false, reqErr("host", "bytes after ']'")
		}
	} else if c := strings.LastIndexByte(s, ':'); c >= 0 {
		host, s = s[:c], s[c:]
	} else {
		host, s = s, ""
	}
	if host == "" {
		return "", "", false, reqErr("host", "empty")
	}
	if len(s) > 1 {
		port = s[1:]
		n := 0
		for i := 0; i < len(port); i++ {
			c := port[i]
			if c < '0' || c > '9' || i >= 5 {
				return "", "", false, reqErr("host", "port is not a number in 1..65535")
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 || n > 65535 {
			return "", "", false, reqErr("host", "port is not a number in 1..65535")
		}
	}
	return host, port, bracket, nil
}

// checkHost validates an ASCII host: an IPv6 literal when it was in
// brackets, else a DNS name or IPv4 address (letters, digits, '-', '.',
// '_', '~').
func checkHost(host string, bracket bool) error {
	if bracket {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return reqErr("host", "invalid IPv6 literal")
		}
		return nil
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			return reqErr("host", "invalid character in host name")
		}
	}
	return nil
}

// toASCIIHost converts a non-ASCII host name with IDNA (Lookup profile).
func toASCIIHost(host string) (string, error) {
	a, err := idna.Lookup.ToASCII(host)
	if err != nil {
		return "", reqErr("host", "invalid international host name")
	}
	if err := checkHost(a, false); err != nil {
		return "", err
	}
	return a, nil
}

// validHostField reports whether v, a Host field value, is "host[:port]".
func validHostField(v []byte) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	host, _, bracket, err := splitHostPort(string(v))
	return err == nil && checkHost(host, bracket) == nil
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
	return nil
}

// closeBodyStream closes the body stream if it is an io.Closer. The client
// calls it when it gives up on a request before writeBody ran, so that the
// stream is always closed.
func (r *Request) closeBodyStream() {
	if c, ok := r.bodyStream.(io.Closer); ok {
		c.Close()
	}
}

// framing returns the Content-Length to send, -1 for chunked, or -2 for no
// framing field at all.
func (r *Request) framing() int64 {
	if r.bodyStream != nil {
		if r.bodySize < 0 {
			return -1
		}
		return r.bodySize
	}
	if len(r.body) > 0 {
		return int64(len(r.body))
	}
	switch r.method {
	case "POST", "PUT", "PATCH":
		return 0
	}
	return -2
}

const hexDigits = "0123456789ABCDEF"

// writeHead writes the request line and header section to bw, without
// flushing. prepare must have succeeded. closeConn adds "Connection: close"
// unless the header already holds it (as does SetConnectionClose(true)).
func (r *Request) writeHead(bw *bufio.Writer, closeConn bool) error {
	if !r.prepared {
		panic("asynchttp: internal error: writeHead before prepare")
	}
	bw.WriteString(r.Method())
	bw.WriteByte(' ')
	if r.viaProxy {
		// absolute-form (RFC 9112 §3.2.2), with the URL's authority
		if r.hostOverride == "" {
			bw.WriteString("http://")
			bw.WriteString(r.hostHeader)
		} else {
			bw.Write(r.keyBuf) // "http://host:port"
		}
	}
	if r.path == "" {
		bw.WriteByte('/')
	}
	if r.asciiPath {
		bw.WriteString(r.path)
		if r.hasQuery {
			bw.WriteByte('?')
			bw.WriteString(r.query)
		}
	} else {
		writeEscaped(bw, r.path)
		if r.hasQuery {
			bw.WriteByte('?')
			writeEscaped(bw, r.query)
		}
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if r.hostOverride == "" {
		if v := r.Header.Peek("Host"); v != nil {
			bw.Write(v)
		} else {
			bw.WriteString(r.hostHeader)
		}
	} else {
		bw.WriteString(r.hostHeader)
	}
	bw.WriteString("\r\n")

	hasAuthz, hasClose := false, false
	for i := range r.Header.fields {
		k, v := r.Header.nameAt(i), r.Header.valueAt(i)
		switch {
		case equalFoldBytes(k, "Host"), equalFoldBytes(k, "Content-Length"),
			equalFoldBytes(k, "Transfer-Encoding"):
			continue
		case equalFoldBytes(k, "Authorization"):
			hasAuthz = true
		case equalFoldBytes(k, "Connection"):
			hasClose = hasClose || listHasToken(v, "close")
		}
		bw.Write(k)
		bw.WriteString(": ")
		bw.Write(v)
		bw.WriteString("\r\n")
	}
	if r.proxyAuth != "" {
		bw.WriteString("Proxy-Authorization: ")
		bw.WriteString(r.proxyAuth)
		bw.WriteString("\r\n")
	}
	if r.hasAuth && !hasAuthz {
		bw.WriteString("Authorization: Basic ")
		bw.Write(r.authBuf)
		bw.WriteString("\r\n")
	}
	switch n := r.framing(); {
	case n == -1:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case n >= 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, 10))
		bw.WriteString("\r\n")
	}
	if (closeConn || r.connClose) && !hasClose {
		bw.WriteString("Connection: close\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// writeEscaped writes s with bytes >= 0x80 percent-encoded.
func writeEscaped(bw *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			bw.WriteByte(c)
			continue
		}
		bw.WriteByte('%')
		bw.WriteByte(hexDigits[c>>4])
		bw.WriteByte(hexDigits[c&15])
	}
}

// writeBody writes the body: a buffered body as is; a stream of known size
// exactly that many bytes; a stream of unknown size in chunked encoding
// ending with the last chunk. It does not flush at the end. An error from
// the body stream, or a stream not matching its size, is a bodyReadError;
// other errors come from bw. A stream that is an io.Closer is closed.
func (r *Request) writeBody(bw *bufio.Writer) error {
	if r.bodyStream == nil {
		if len(r.body) == 0 {
			return nil
		}
		_, err := bw.Write(r.body)
		return err
	}
	defer r.closeBodyStream()
	r.bodyUsed = true
	if r.bodySize >= 0 {
		return r.copySized(bw)
	}
	return r.copyChunked(bw)
}

// maxEmptyReads bounds successive (0, nil) reads from a body stream.
const maxEmptyReads = 100

// copySized copies exactly r.bodySize bytes from the stream, reading into
// bw's free space to avoid a copy buffer.
func (r *Request) copySized(bw *bufio.Writer) error {
	remaining, empty := r.bodySize, 0
	for remaining > 0 {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		buf := bw.AvailableBuffer()
		buf = buf[:min(int64(cap(buf)), remaining)]
		n, err := r.bodyStream.Read(buf)
		if n > 0 {
			empty = 0
			remaining -= int64(n)
			if _, werr := bw.Write(buf[:n]); werr != nil {
				return werr
			}
		} else if err == nil {
			if empty++; empty >= maxEmptyReads {
				return bodyReadError{io.ErrNoProgress}
			}
		}
		if err == io.EOF {
			if remaining > 0 {
				return bodyReadError{errBodyShort}
			}
			return nil
		}
		if err != nil {
			return bodyReadError{err}
		}
	}
	// One more read tells a stream that is too long.
	n, err := r.bodyStream.Read(r.one[:])
	if n > 0 {
		return bodyReadError{errBodyLong}
	}
	if err != nil && err != io.EOF {
		return bodyReadError{err}
	}
	return nil
}

// copyChunked sends the stream in chunked encoding. Each chunk is read
// into bw's free space behind room for its size line.
func (r *Request) copyChunked(bw *bufio.Writer) error {
	const room = 16 // >= len(hex size) + CRLF
	empty := 0
	for {
		if bw.Available() < room+64 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		buf := bw.AvailableBuffer()
		buf = buf[:cap(buf)]
		data := buf[room : len(buf)-2]
		n, err := r.bodyStream.Read(data)
		if n > 0 {
			empty = 0
			var size [room]byte
			hdr := strconv.AppendInt(size[:0], int64(n), 16)
			hdr = append(hdr, '\r', '\n')
			bw.Write(hdr)
			bw.Write(data[:n]) // overlapping copy down into place: fine
			if _, werr := bw.WriteString("\r\n"); werr != nil {
				return werr
			}
		} else if err == nil {
			if empty++; empty >= maxEmptyReads {
				return bodyReadError{io.ErrNoProgress}
			}
		}
		if err == io.EOF {
			_, werr := bw.WriteString("0\r\n\r\n")
			return werr
		}
		if err != nil {
			return bodyReadError{err}
		}
	}
}
