// Writing a request on the wire: request line, header section and body
// (sized or chunked).

package asynchttp

import (
	"bufio"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

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
	switch {
	case r.target == targetAuthority && !r.viaProxy:
		if r.opaque != "" {
			bw.WriteString(r.opaque)
		} else {
			bw.WriteString(r.hostHeader)
		}
	case r.target == targetAsterisk && !r.viaProxy:
		bw.WriteByte('*')
	default:
		r.writeTarget(bw)
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

	hasAuthz, hasClose, upgrade := false, false, false
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
			upgrade = upgrade || listHasToken(v, "upgrade")
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
	n := r.framing()
	switch {
	case n == -1:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case n >= 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, 10))
		bw.WriteString("\r\n")
	}
	if n == -1 && len(r.trailer) > 0 {
		// The fields to come after the chunked body are declared, as
		// net/http does (which sends none after a sized body).
		bw.WriteString("Trailer: ")
		for i, k := range sortedKeys(r.trailer) {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(http.CanonicalHeaderKey(k))
		}
		bw.WriteString("\r\n")
	}
	// An upgrade request keeps its "Connection: upgrade" alone, as with
	// net/http: the conn is not reused after it whatever the answer.
	if (closeConn || r.connClose) && !hasClose && !upgrade {
		bw.WriteString("Connection: close\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// writeTarget writes the origin-form request-target ("/path?query"), or
// the absolute-form through a plain HTTP proxy.
func (r *Request) writeTarget(bw *bufio.Writer) {
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
			bw.WriteString("0\r\n")
			if len(r.trailer) > 0 {
				writeTrailer(bw, r.trailer)
			}
			_, werr := bw.WriteString("\r\n")
			return werr
		}
		if err != nil {
			return bodyReadError{err}
		}
	}
}

// writeTrailer writes the trailer fields of a request, read now that its
// body has ended, as net/http writes them: names canonical and sorted, CR
// and LF in a value turned to spaces and the value trimmed, a field with
// an invalid name skipped.
func writeTrailer(bw *bufio.Writer, t http.Header) {
	for _, k := range sortedKeys(t) {
		name := http.CanonicalHeaderKey(k)
		if !httpguts.ValidHeaderFieldName(name) {
			continue
		}
		for _, v := range t[k] {
			bw.WriteString(name)
			bw.WriteString(": ")
			bw.WriteString(strings.TrimSpace(strings.Map(newlineToSpace, v)))
			bw.WriteString("\r\n")
		}
	}
}

func newlineToSpace(r rune) rune {
	if r == '\r' || r == '\n' {
		return ' '
	}
	return r
}

// sortedKeys returns the keys of h in the order of their canonical forms.
func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return strings.Compare(http.CanonicalHeaderKey(a), http.CanonicalHeaderKey(b))
	})
	return keys
}
