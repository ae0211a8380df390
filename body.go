// bodyReader: reads one response body by its framing, with limits.

package asynchttp

import (
	"bufio"
	"errors"
	"io"
	"math"
)

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4 << 10

// maxTrailerBytes bounds the trailer section of a chunked body.
const maxTrailerBytes = 64 << 10

var (
	errChunkSize = errors.New("not a hex number that fits in int64")
	errChunkEOL  = errors.New("chunk data not followed by CRLF")
	errChunkExt  = errors.New("bad chunk extension")
	errTooLong   = errors.New("too long")
)

var _ io.Reader = (*bodyReader)(nil)

// bodyReader reads one response body according to its framing. It is
// meant to be embedded in a connection and reused: reset does not allocate.
// Once Read returns an error, every later Read returns the same error;
// io.EOF means the body ended cleanly.
type bodyReader struct {
	br      *bufio.Reader
	mode    framingMode
	left    int64 // framingLength: bytes left; framingChunked: left in this chunk
	max     int64 // <= 0: no limit
	n       int64 // bytes delivered (or discarded)
	trailer *Header
	err     error
	midData bool // chunked: chunk data was started and its CRLF is due
	scratch []byte
}

// reset prepares b to read a body framed by f from br. max > 0 bounds the
// body bytes. Trailer fields of a chunked body are added to trailer (which
// may be nil to drop them).
func (b *bodyReader) reset(br *bufio.Reader, f bodyFraming, max int64, trailer *Header) {
	b.br, b.mode, b.max, b.n, b.trailer = br, f.mode, max, 0, trailer
	b.left, b.err, b.midData = 0, nil, false
	switch f.mode {
	case framingNone:
		b.err = io.EOF
	case framingLength:
		b.left = f.length
		if max > 0 && f.length > max {
			b.err = b.limitErr()
		} else if f.length == 0 {
			b.err = io.EOF
		}
	}
}

func (b *bodyReader) limitErr() error {
	return &LimitError{Limit: "MaxResponseBodyBytes", Max: b.max}
}

// done reports whether the body was read to its clean end (for a chunked
// body: trailers included).
func (b *bodyReader) done() bool { return b.err == io.EOF }

// fail records err as the sticky error and returns it.
func (b *bodyReader) fail(err error) error {
	b.err = err
	return err
}

// avail returns how many body bytes may be read now without crossing a
// framing boundary: for chunked, it moves to the next chunk with data. It
// returns b.err at the end or on failure.
func (b *bodyReader) avail() (int64, error) {
	if b.err != nil {
		return 0, b.err
	}
	switch b.mode {
	case framingLength:
		return b.left, nil
	case framingChunked:
		for b.left == 0 {
			if err := b.nextChunk(); err != nil {
				return 0, b.fail(err)
			}
		}
		return b.left, nil
	default: // framingClose
		if b.max > 0 {
			return b.max - b.n + 1, nil // one more byte tells an overflow
		}
		return math.MaxInt64, nil
	}
}

// consumed accounts for k bytes taken from the current segment and turns
// readErr (from br) into the body's error, if any.
func (b *bodyReader) consumed(k int, readErr error) error {
	b.n += int64(k)
	if b.mode != framingClose {
		b.left -= int64(k)
	}
	if b.max > 0 && b.n > b.max {
		return b.fail(b.limitErr())
	}
	switch {
	case b.mode == framingLength && b.left == 0:
		b.err = io.EOF
		return nil // the caller gets EOF on the next call
	case readErr == nil:
		return nil
	case readErr == io.EOF && b.mode == framingClose:
		return b.fail(io.EOF)
	case readErr == io.EOF:
		return b.fail(io.ErrUnexpectedEOF)
	}
	return b.fail(readErr)
}

// Read reads body bytes into p.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	a, err := b.avail()
	if err != nil {
		return 0, err
	}
	if int64(len(p)) > a {
		p = p[:a]
	}
	k, rerr := b.br.Read(p)
	if k == 0 && rerr == nil {
		return 0, nil
	}
	if err := b.consumed(k, rerr); err != nil {
		if b.max > 0 && b.n > b.max {
			return 0, err
		}
		return k, err
	}
	return k, nil
}

// appendTo reads the rest of the body, appending it to dst. The error is
// nil at a clean end.
func (b *bodyReader) appendTo(dst []byte) ([]byte, error) {
	for {
		if b.err != nil {
			if b.err == io.EOF {
				return dst, nil
			}
			return dst, b.err
		}
		if b.mode == framingLength {
			// Grow once to the declared length, but do not trust a huge
			// declaration before the bytes arrive.
			if need := int(min(b.left, maxPrealloc)); cap(dst)-len(dst) < need {
				dst = grow(dst, need)
			}
		} else if cap(dst)-len(dst) < 512 {
			dst = grow(dst, max(4096, len(dst)))
		}
		k, err := b.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+k]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// grow returns dst with room for at least n more bytes, in one allocation.
func grow(dst []byte, n int) []byte {
	g := make([]byte, len(dst), len(dst)+n)
	copy(g, dst)
	return g
}

// maxPrealloc caps the buffer grown ahead of a Content-Length body.
const maxPrealloc = 8 << 20

// discard reads and drops at most maxBytes body bytes, and reports whether
// the body then reached its clean end.
func (b *bodyReader) discard(maxBytes int64) bool {
	var dropped int64
	for {
		a, err := b.avail()
		if err != nil {
			return err == io.EOF
		}
		if dropped >= maxBytes {
			// The end may still be in reach without more body bytes (a
			// chunked body's last chunk), but only if it is buffered.
			return false
		}
		k, rerr := b.br.Discard(int(min(a, maxBytes-dropped, math.MaxInt32)))
		dropped += int64(k)
		if b.consumed(k, rerr) != nil {
			return b.done()
		}
	}
}

// nextChunk reads the CRLF ending the previous chunk's data (if any) and the
// next chunk-size line. At the last chunk it reads the trailer section and
// sets b.err to io.EOF.
func (b *bodyReader) nextChunk() error {
	if b.midData {
		if err := b.readCRLF(); err != nil {
			return err
		}
		b.midData = false
	}
	line, _, err := readLine(b.br, &b.scratch, maxChunkLine)
	if err != nil {
		return chunkIOErr(err, "chunk size")
	}
	size, err := parseChunkSize(line)
	if err != nil {
		return err
	}
	if size == 0 {
		if err := b.readTrailer(); err != nil {
			return err
		}
		b.err = io.EOF
		return io.EOF
	}
	if b.max > 0 && size > b.max-b.n {
		return b.limitErr()
	}
	b.left, b.midData = size, true
	return nil
}

// chunkIOErr maps a readLine error inside a chunked body.
func chunkIOErr(err error, what string) error {
	switch err {
	case errLineTooLong:
		return protoErr(what, errTooLong)
	case io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// readCRLF reads the CRLF (or bare LF) after chunk data.
func (b *bodyReader) readCRLF() error {
	c, err := b.br.ReadByte()
	if err == nil && c == '\r' {
		c, err = b.br.ReadByte()
	}
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if c != '\n' {
		return protoErr("chunk data", errChunkEOL)
	}
	return nil
}

// parseChunkSize parses "1*HEXDIG [BWS ; ext...]".
func parseChunkSize(line []byte) (int64, error) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		if !isHex(c) {
			break
		}
		if n > math.MaxInt64>>4 {
			return 0, protoErr("chunk size", errChunkSize)
		}
		n = n<<4 | int64(unhex(c))
	}
	if i == 0 {
		return 0, protoErr("chunk size", errChunkSize)
	}
	rest := line[i:]
	for len(rest) > 0 && isOWS(rest[0]) {
		rest = rest[1:]
	}
	if len(rest) > 0 {
		if rest[0] != ';' {
			return 0, protoErr("chunk size", errChunkSize)
		}
		if !validFieldValue(rest) {
			return 0, protoErr("chunk extension", errChunkExt)
		}
	}
	return n, nil
}

// readTrailer reads trailer fields up to the empty line. On error the
// trailer is left as it was.
func (b *bodyReader) readTrailer() (err error) {
	if t := b.trailer; t != nil {
		nb, nf := len(t.buf), len(t.fields)
		defer func() {
			if err != nil {
				t.buf, t.fields = t.buf[:nb], t.fields[:nf]
			}
		}()
	}
	used := 0
	for {
		line, k, err := readLine(b.br, &b.scratch, maxTrailerBytes-used)
		if err != nil {
			return chunkIOErr(err, "trailer")
		}
		used += k
		if len(line) == 0 {
			return nil
		}
		h := b.trailer
		if h == nil {
			var drop Header // parse to validate; stays on the stack
			h = &drop
		}
		if err := parseFieldLine(line, h, "trailer field"); err != nil {
			return err
		}
	}
}
