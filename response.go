// Response: a buffered HTTP response and the parser of response heads.

package asynchttp

import (
	"bufio"
	"errors"
	"io"
	"math"
	"sync"
)

// Response is an HTTP response whose body is buffered (used by Client.Do).
// Get one with AcquireResponse and give it back with ReleaseResponse; it may
// be reused after Reset. Slices it returns are valid until Reset or Release.
type Response struct {
	StatusCode             int
	ProtoMajor, ProtoMinor int
	// ContentLength is the declared body length: -1 if unknown (chunked or
	// close-delimited), 0 for a response without a body (1xx, 204, 304).
	// For a HEAD request it is the Content-Length field, or -1.
	ContentLength int64
	Header        Header
	Trailer       Header // chunked trailer fields, filled once the body is read

	reason  []byte
	body    []byte // the client appends the body here
	scratch []byte // long head lines
}

var responsePool = sync.Pool{New: func() any { return new(Response) }}

// AcquireResponse returns an empty Response from a pool. Give it back with
// ReleaseResponse.
func AcquireResponse() *Response { return responsePool.Get().(*Response) }

// ReleaseResponse resets r and puts it back in the pool. r and the slices
// it returned must not be used afterwards.
func ReleaseResponse(r *Response) {
	r.Reset()
	responsePool.Put(r)
}

// Reset makes r empty, keeping its buffers (but not a very large body
// buffer).
func (r *Response) Reset() {
	r.StatusCode, r.ProtoMajor, r.ProtoMinor, r.ContentLength = 0, 0, 0, 0
	r.Header.Reset()
	r.Trailer.Reset()
	r.reason = r.reason[:0]
	if cap(r.body) > maxPooledBody {
		r.body = nil
	}
	r.body = r.body[:0]
	if cap(r.scratch) > maxPooledBody {
		r.scratch = nil
	}
}

// Body returns the buffered body, valid until Reset or Release.
func (r *Response) Body() []byte { return r.body }

// BodyString returns a copy of the body as a string.
func (r *Response) BodyString() string { return string(r.body) }

// Reason returns the reason phrase of the status line, "" if none.
func (r *Response) Reason() string { return string(r.reason) }

// framingMode says how a response body is delimited.
type framingMode uint8

const (
	framingNone    framingMode = iota // no body
	framingLength                     // Content-Length bytes
	framingChunked                    // chunked transfer coding
	framingClose                      // until the server closes
)

// bodyFraming says how to read a response body and whether the connection
// may carry another request afterwards.
type bodyFraming struct {
	mode   framingMode
	length int64 // for framingLength
	// close reports that the connection must not be reused after this
	// response: "Connection: close", HTTP/1.0 without keep-alive, a
	// close-delimited body, Transfer-Encoding with Content-Length, or 101.
	close bool
}

// fallbackMaxHeaderBytes bounds a response head when the caller passes no
// limit.
const fallbackMaxHeaderBytes = 1 << 20

// maxInterimResponses bounds the 1xx responses skipped before a final one.
const maxInterimResponses = 32

var (
	errLineTooLong = errors.New("line too long")
	errBadCode     = errors.New("status code is not 3 digits in 100..999")
	errBadVersion  = errors.New("version is not HTTP/1.0 or HTTP/1.1")
	errBadCL       = errors.New("invalid or conflicting values")
	errBadTE       = errors.New("transfer coding other than chunked")
	errNoColon     = errors.New("no colon")
	errBadName     = errors.New("field name is not a token")
	errBadValue    = errors.New("field value holds a control byte")
	errTooManyInfo = errors.New("too many 1xx responses")
)

func protoErr(what string, err error) error { return &ProtocolError{What: what, Err: err} }

// readResponseHead reads one final response head (status line and header
// section) from br into resp, after resetting resp. Interim 1xx responses
// but 101 are skipped; on1xx, if not nil, sees each of them (its error
// aborts). maxHeaderBytes bounds each head, line terminators included
// (<= 0 means 1 MiB); past it the error is a *LimitError and no more than
// about maxHeaderBytes plus br's buffer has been held. isHead says the
// request was HEAD: the response then has no body whatever its fields say.
//
// I/O errors are returned unwrapped: io.EOF when the connection ended before
// any byte, io.ErrUnexpectedEOF when it ended inside a head. A malformed
// head is a *ProtocolError.
func readResponseHead(br *bufio.Reader, resp *Response, maxHeaderBytes int, isHead bool, on1xx func(code int, h *Header) error) (bodyFraming, error) {
	resp.Reset()
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = fallbackMaxHeaderBytes
	}
	for interim := 0; ; interim++ {
		if err := readHead(br, resp, maxHeaderBytes, interim == 0); err != nil {
			return bodyFraming{}, err
		}
		code := resp.StatusCode
		if code >= 200 || code == 101 {
			return responseFraming(resp, isHead)
		}
		if interim >= maxInterimResponses {
			return bodyFraming{}, protoErr("status line", errTooManyInfo)
		}
		if on1xx != nil {
			if err := on1xx(code, &resp.Header); err != nil {
				return bodyFraming{}, err
			}
		}
		resp.Header.Reset()
		resp.reason = resp.reason[:0]
	}
}

// readHead reads a status line and header section. first says whether no
// byte of the response has been read yet (then an immediate end is io.EOF).
func readHead(br *bufio.Reader, resp *Response, max int, first bool) error {
	line, n, err := readLine(br, &resp.scratch, max)
	if err != nil {
		if err == errLineTooLong {
			return &LimitError{Limit: "MaxResponseHeaderBytes", Max: int64(max)}
		}
		if err == io.EOF && !first {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	used := n
	if err := parseStatusLine(line, resp); err != nil {
		return err
	}
	for {
		line, n, err := readLine(br, &resp.scratch, max-used)
		if err != nil {
			if err == errLineTooLong {
				return &LimitError{Limit: "MaxResponseHeaderBytes", Max: int64(max)}
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		used += n
		if len(line) == 0 {
			return nil
		}
		if err := parseFieldLine(line, &resp.Header, "header field"); err != nil {
			return err
		}
	}
}

// readLine reads one line of at most max bytes (terminator included) and
// returns it without its LF or CRLF, and the bytes consumed. A line longer
// than br's buffer is gathered in *scratch. Errors: errLineTooLong; io.EOF
// if the input ended before any byte; io.ErrUnexpectedEOF if it ended
// inside the line; other read errors as they are.
func readLine(br *bufio.Reader, scratch *[]byte, max int) ([]byte, int, error) {
	line, err := br.ReadSlice('\n')
	if err == nil {
		if len(line) > max {
			return nil, len(line), errLineTooLong
		}
		return trimEOL(line), len(line), nil
	}
	if err != bufio.ErrBufferFull {
		if len(line) > max {
			return nil, len(line), errLineTooLong
		}
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, len(line), err
	}
	buf := (*scratch)[:0]
	for {
		if len(buf)+len(line) > max {
			*scratch = buf
			return nil, len(buf) + len(line), errLineTooLong
		}
		buf = append(buf, line...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			*scratch = buf
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, len(buf), err
		}
		line, err = br.ReadSlice('\n')
	}
	*scratch = buf
	return trimEOL(buf), len(buf), nil
}

// trimEOL removes the final LF and a CR before it.
func trimEOL(line []byte) []byte {
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line
}

// parseStatusLine parses "HTTP/1.x SP 3DIGIT [SP reason]" into resp.
func parseStatusLine(line []byte, resp *Response) error {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
		return protoErr("status line", nil)
	}
	switch line[7] {
	case '0', '1':
		resp.ProtoMajor, resp.ProtoMinor = 1, int(line[7]-'0')
	default:
		return protoErr("status line", errBadVersion)
	}
	c0, c1, c2 := line[9], line[10], line[11]
	if c0 < '1' || c0 > '9' || c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9' {
		return protoErr("status line", errBadCode)
	}
	resp.StatusCode = int(c0-'0')*100 + int(c1-'0')*10 + int(c2-'0')
	if len(line) == 12 {
		return nil
	}
	if line[12] != ' ' {
		return protoErr("status line", errBadCode)
	}
	reason := line[13:]
	for _, c := range reason {
		if c == 0 || c == '\r' || c == '\n' {
			return protoErr("status line", errBadValue)
		}
	}
	resp.reason = append(resp.reason[:0], reason...)
	return nil
}

// parseFieldLine parses "name: value" (no line terminator) and adds it to h.
// what names the section in errors ("header field", "trailer field").
func parseFieldLine(line []byte, h *Header, what string) error {
	if isOWS(line[0]) {
		return protoErr("obs-fold", nil)
	}
	colon := -1
	for i, c := range line {
		if c == ':' {
			colon = i
			break
		}
	}
	if colon < 0 {
		return protoErr(what, errNoColon)
	}
	name := line[:colon]
	if !validToken(name) {
		return protoErr(what, errBadName)
	}
	value := trimOWS(line[colon+1:])
	if !validFieldValue(value) {
		return protoErr(what, errBadValue)
	}
	h.AddBytes(name, value)
	return nil
}

// parseLength parses a Content-Length element: 1*DIGIT, no overflow.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// responseFraming decides how the body of the final response in resp is
// delimited, and sets resp.ContentLength.
func responseFraming(resp *Response, isHead bool) (bodyFraming, error) {
	h := &resp.Header
	cl := int64(-1)
	hasTE, teChunked := false, false
	connClose, keepAlive := false, false
	for i := range h.fields {
		name, v := h.nameAt(i), h.valueAt(i)
		switch {
		case equalFoldBytes(name, "Content-Length"):
			if len(v) == 0 {
				return bodyFraming{}, protoErr("Content-Length", errBadCL)
			}
			for len(v) > 0 {
				var e []byte
				e, v = nextListElem(v)
				n, ok := parseLength(e)
				if !ok || (cl >= 0 && n != cl) {
					return bodyFraming{}, protoErr("Content-Length", errBadCL)
				}
				cl = n
			}
		case equalFoldBytes(name, "Transfer-Encoding"):
			// Only a lone "chunked" is supported: any other coding would
			// hand the caller an undecoded body.
			for len(v) > 0 {
				var e []byte
				e, v = nextListElem(v)
				if len(e) == 0 {
					continue
				}
				teChunked = !hasTE && equalFoldBytes(e, "chunked")
				hasTE = true
			}
			if !hasTE {
				hasTE = true // an empty field: no valid coding
			}
		case equalFoldBytes(name, "Connection"):
			connClose = connClose || listHasToken(v, "close")
			keepAlive = keepAlive || listHasToken(v, "keep-alive")
		}
	}

	f := bodyFraming{close: connClose || (resp.ProtoMinor == 0 && !keepAlive)}
	code := resp.StatusCode
	switch {
	case code == 101:
		f.close = true
		resp.ContentLength = 0
		return f, nil
	case isHead:
		resp.ContentLength = cl
		return f, nil
	case code < 200 || code == 204 || code == 304:
		resp.ContentLength = 0
		return f, nil
	}
	switch {
	case hasTE && resp.ProtoMinor == 0:
		// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is
		// faulty framing, Content-Length or not. Never wait for a chunk:
		// the body runs to the close, and the conn is not reused.
		f.mode, f.close = framingClose, true
		resp.ContentLength = -1
	case hasTE:
		if !teChunked {
			return bodyFraming{}, protoErr("Transfer-Encoding", errBadTE)
		}
		f.mode = framingChunked
		if cl >= 0 {
			f.close = true // RFC 9112 §6.3: chunked wins, then close
		}
		resp.ContentLength = -1
	case cl >= 0:
		f.mode, f.length = framingLength, cl
		resp.ContentLength = cl
	default:
		f.mode, f.close = framingClose, true
		resp.ContentLength = -1
	}
	return f, nil
}
