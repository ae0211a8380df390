// Reading response bodies: Content-Length, chunked and close-delimited
// framing, limits, discard, reuse.

package asynchttp

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newBody(in string, f bodyFraming, max int64, trailer *Header) (*bodyReader, *bufio.Reader) {
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	b := &bodyReader{}
	b.reset(br, f, max, trailer)
	return b, br
}

var (
	chunked = bodyFraming{mode: framingChunked}
	closeF  = bodyFraming{mode: framingClose, close: true}
)

func length(n int64) bodyFraming { return bodyFraming{mode: framingLength, length: n} }

func TestBodyReaderRead(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		f       bodyFraming
		max     int64
		body    string
		err     error  // nil: clean end
		what    string // ProtocolError.What
		rest    string // left unread on the connection after a clean end
		trailer string // "k=v;..." in order
	}{
		{"length", "helloNEXT", length(5), 0, "hello", nil, "", "NEXT", ""},
		{"length zero", "NEXT", length(0), 0, "", nil, "", "NEXT", ""},
		{"none", "NEXT", bodyFraming{}, 0, "", nil, "", "NEXT", ""},
		{"length exact max", "hello", length(5), 5, "hello", nil, "", "", ""},
		{"length over max", "hello", length(5), 4, "", ErrBodyTooLarge, "", "", ""},
		{"truncated length", "hel", length(5), 0, "hel", io.ErrUnexpectedEOF, "", "", ""},
		{"close", "all of it", closeF, 0, "all of it", nil, "", "", ""},
		{"close empty", "", closeF, 0, "", nil, "", "", ""},
		{"close exact max", "12345", closeF, 5, "12345", nil, "", "", ""},
		{"close over max", "123456", closeF, 5, "", ErrBodyTooLarge, "", "", ""},
		{"chunked", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT", chunked, 0, "abcde", nil, "", "NEXT", ""},
		{"chunked long chunk", "20\r\n" + strings.Repeat("x", 32) + "\r\n0\r\n\r\n", chunked, 0, strings.Repeat("x", 32), nil, "", "", ""},
		{"chunked extensions", "3;a=b;c\r\nabc\r\n0;x=\"y z\"\r\n\r\n", chunked, 0, "abc", nil, "", "", ""},
		{"chunked BWS before ext", "3 ;a=b\r\nabc\r\n0\t\r\n\r\n", chunked, 0, "abc", nil, "", "", ""},
		{"chunked trailers", "1\r\na\r\n0\r\nA: 1\r\nb:2\r\nA: 3\r\n\r\nNEXT", chunked, 0, "a", nil, "", "NEXT", "A=1;b=2;A=3"},
		{"chunked leading zeros", "00000000000000000000003\r\nabc\r\n0\r\n\r\n", chunked, 0, "abc", nil, "", "", ""},
		{"chunked exact max", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", chunked, 5, "abcde", nil, "", "", ""},
		{"chunked over max", "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", chunked, 5, "abc", ErrBodyTooLarge, "", "", ""},
		{"chunked huge size over max", "7fffffffffffffff\r\n", chunked, 5, "", ErrBodyTooLarge, "", "", ""},
		{"chunked truncated data", "5\r\nab", chunked, 0, "ab", io.ErrUnexpectedEOF, "", "", ""},
		{"chunked truncated size", "5", chunked, 0, "", io.ErrUnexpectedEOF, "", "", ""},
		{"chunked truncated after data", "3\r\nabc", chunked, 0, "abc", io.ErrUnexpectedEOF, "", "", ""},
		{"chunked truncated after CR", "3\r\nabc\r", chunked, 0, "abc", io.ErrUnexpectedEOF, "", "", ""},
		{"chunked no last chunk", "3\r\nabc\r\n", chunked, 0, "abc", io.ErrUnexpectedEOF, "", "", ""},
		{"chunked truncated trailer", "0\r\nA: 1\r\n", chunked, 0, "", io.ErrUnexpectedEOF, "", "", ""},
		{"chunked missing final CRLF", "0\r\n", chunked, 0, "", io.ErrUnexpectedEOF, "", "", ""},
		{"chunked empty input", "", chunked, 0, "", io.ErrUnexpectedEOF, "", "", ""},
		{"chunk size overflow", "8000000000000000\r\n", chunked, 0, "", ErrMalformedResponse, "chunk size", "", ""},
		{"chunk size overflow long", "fffffffffffffffff\r\n", chunked, 0, "", ErrMalformedResponse, "chunk size", "", ""},
		{"chunk size not hex", "g\r\n", chunked, 0, "", ErrMalformedResponse, "chunk size", "", ""},
		{"chunk size empty", "\r\nabc", chunked, 0, "", ErrMalformedResponse, "chunk size", "", ""},
		{"chunk size negative", "-1\r\n", chunked, 0, "", ErrMalformedResponse, "chunk size", "", ""},
		{"chunk size 0x", "0x5\r\nhello\r\n0\r\n\r\n", chunked, 0, "", ErrMalformedResponse, "chunk size", "", ""},
		{"chunk size junk after", "5x\r\nhello\r\n0\r\n\r\n", chunked, 0, "", ErrMalformedResponse, "chunk size", "", ""},
		{"chunk ext with NUL", "3;a\x00\r\nabc\r\n0\r\n\r\n", chunked, 0, "", ErrMalformedResponse, "chunk extension", "", ""},
		{"chunk ext bare CR", "3;a\rb\r\nabc\r\n0\r\n\r\n", chunked, 0, "", ErrMalformedResponse, "chunk extension", "", ""},
		{"chunk line too long", "3;" + strings.Repeat("e", maxChunkLine) + "\r\nabc\r\n0\r\n\r\n", chunked, 0, "", ErrMalformedResponse, "chunk size", "", ""},
		{"missing CRLF after data", "3\r\nabcX\r\n0\r\n\r\n", chunked, 0, "abc", ErrMalformedResponse, "chunk data", "", ""},
		{"chunk data too long", "3\r\nabcd\r\n0\r\n\r\n", chunked, 0, "abc", ErrMalformedResponse, "chunk data", "", ""},
		{"CR not LF after data", "3\r\nabc\rX0\r\n\r\n", chunked, 0, "abc", ErrMalformedResponse, "chunk data", "", ""},
		{"bad trailer", "0\r\nBad Name: v\r\n\r\n", chunked, 0, "", ErrMalformedResponse, "trailer field", "", ""},
		{"trailer obs-fold", "0\r\nA: v\r\n folded\r\n\r\n", chunked, 0, "", ErrMalformedResponse, "obs-fold", "", ""},
		{"trailer NUL", "0\r\nA: v\x00\r\n\r\n", chunked, 0, "", ErrMalformedResponse, "trailer field", "", ""},
		{"trailer too large", "0\r\n" + strings.Repeat("A: 0123456789abcd\r\n", maxTrailerBytes/19+1) + "\r\n", chunked, 0, "", ErrMalformedResponse, "trailer", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tr Header
			b, br := newBody(tt.in, tt.f, tt.max, &tr)
			got, err := b.appendTo(nil)
			assert.Equal(t, tt.body, string(got))
			if tt.err == nil {
				require.NoError(t, err)
				assert.True(t, b.done())
				rest, _ := io.ReadAll(br)
				assert.Equal(t, tt.rest, string(rest))
				n, err := b.Read(make([]byte, 4))
				assert.Equal(t, 0, n)
				assert.Equal(t, io.EOF, err)
			} else {
				require.ErrorIs(t, err, tt.err)
				if tt.what != "" {
					var pe *ProtocolError
					require.ErrorAs(t, err, &pe)
					assert.Equal(t, tt.what, pe.What, pe.Error())
				}
				if errors.Is(tt.err, io.ErrUnexpectedEOF) {
					assert.Equal(t, io.ErrUnexpectedEOF, err, "not wrapped")
				}
				assert.False(t, b.done())
				// Sticky: the same error again, no data.
				n, err2 := b.Read(make([]byte, 4))
				assert.Equal(t, 0, n)
				assert.Equal(t, err, err2)
			}
			var trail []string
			tr.VisitAll(func(k, v []byte) { trail = append(trail, string(k)+"="+string(v)) })
			assert.Equal(t, tt.trailer, strings.Join(trail, ";"))
		})
	}
}

func TestBodyReaderLimitFailsBeforeReading(t *testing.T) {
	b, br := newBody("hello world", length(11), 10, nil)
	n, err := b.Read(make([]byte, 100))
	assert.Equal(t, 0, n)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	var le *LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "MaxResponseBodyBytes", le.Limit)
	assert.Equal(t, int64(10), le.Max)
	assert.Equal(t, 0, br.Buffered(), "nothing was read from the connection")
}

func TestBodyReaderSmallReads(t *testing.T) {
	in := "5\r\nhello\r\n3;x\r\n, w\r\n4\r\norld\r\n0\r\nT: v\r\n\r\n"
	var tr Header
	b, _ := newBody(in, chunked, 0, &tr)
	var got []byte
	p := make([]byte, 2)
	for {
		n, err := b.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	assert.Equal(t, "hello, world", string(got))
	assert.Equal(t, "v", tr.Get("T"))
	n, err := b.Read(nil)
	assert.Equal(t, 0, n)
	assert.Equal(t, io.EOF, err)
}

func TestBodyReaderNetErrorUnwrapped(t *testing.T) {
	for _, f := range []bodyFraming{length(10), chunked, closeF} {
		in := "ab"
		if f.mode == framingChunked {
			in = "a\r\nab"
		}
		br := bufio.NewReader(io.MultiReader(strings.NewReader(in), errReader{netErr{}}))
		var b bodyReader
		b.reset(br, f, 0, nil)
		_, err := b.appendTo(nil)
		assert.Equal(t, netErr{}, err)
		_, err = b.Read(make([]byte, 1))
		assert.Equal(t, netErr{}, err, "sticky")
	}
}

func TestBodyReaderDiscard(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		f    bodyFraming
		max  int64
		done bool
		rest string
	}{
		{"length all", "helloNEXT", length(5), 5, true, "NEXT"},
		{"length more allowed", "helloNEXT", length(5), 100, true, "NEXT"},
		{"length too much left", "helloNEXT", length(5), 4, false, "oNEXT"},
		{"length truncated", "hel", length(5), 100, false, ""},
		{"none", "NEXT", bodyFraming{}, 0, true, "NEXT"},
		{"chunked", "3\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nNEXT", chunked, 5, true, "NEXT"},
		{"chunked allowance zero but only last chunk", "0\r\n\r\nNEXT", chunked, 0, true, "NEXT"},
		{"chunked too much", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT", chunked, 4, false, "e\r\n0\r\n\r\nNEXT"},
		{"chunked malformed", "3\r\nabcX\r\n0\r\n\r\n", chunked, 100, false, "\r\n0\r\n\r\n"},
		{"close", "abc", closeF, 100, true, ""},
		{"close too much", "abcdef", closeF, 3, false, "def"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, br := newBody(tt.in, tt.f, 0, nil)
			assert.Equal(t, tt.done, b.discard(tt.max))
			assert.Equal(t, tt.done, b.done())
			rest, _ := io.ReadAll(br)
			assert.Equal(t, tt.rest, string(rest))
		})
	}
}

func TestBodyReaderDiscardAfterPartialRead(t *testing.T) {
	b, br := newBody("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\nNEXT", chunked, 0, nil)
	p := make([]byte, 2)
	n, err := b.Read(p)
	require.NoError(t, err)
	assert.Equal(t, "ab", string(p[:n]))
	assert.True(t, b.discard(10))
	rest, _ := io.ReadAll(br)
	assert.Equal(t, "NEXT", string(rest))
}

func TestBodyReaderReuse(t *testing.T) {
	var b bodyReader
	br := bufio.NewReader(strings.NewReader("5\r\nhello\r\n0\r\n\r\nworldX"))
	b.reset(br, chunked, 0, nil)
	got, err := b.appendTo(nil)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))
	b.reset(br, length(5), 0, nil)
	got, err = b.appendTo(got[:0])
	require.NoError(t, err)
	assert.Equal(t, "world", string(got))
	assert.True(t, b.done())
}

func TestBodyAppendToGrowsOnceForLength(t *testing.T) {
	in := strings.Repeat("z", 100000)
	sr := strings.NewReader(in)
	br := bufio.NewReaderSize(sr, 4096)
	var b bodyReader
	dst := []byte("pre")
	allocs := testing.AllocsPerRun(10, func() {
		sr.Reset(in)
		br.Reset(sr)
		b.reset(br, length(int64(len(in))), 0, nil)
		got, err := b.appendTo(dst[:3:3])
		if err != nil || len(got) != 3+len(in) || string(got[:3]) != "pre" || cap(got) > 2*len(got) {
			panic("bad")
		}
	})
	assert.Equal(t, float64(1), allocs)
}

func TestBodyAppendToHugeDeclaredLength(t *testing.T) {
	// A huge Content-Length without a limit must not allocate it up front.
	b, _ := newBody("abc", length(1<<50), 0, nil)
	got, err := b.appendTo(nil)
	assert.Equal(t, "abc", string(got))
	assert.Equal(t, io.ErrUnexpectedEOF, err)
}

func FuzzChunkedBody(f *testing.F) {
	for _, s := range []string{
		"3\r\nabc\r\n0\r\n\r\n",
		"A;ext=1\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
		"3\nabc\n0\n\n",
		"8000000000000000\r\n",
		"3\r\nabcX\r\n",
		"0\r\nBad Name: x\r\n\r\n",
		"1\r\na\r\n1\r\nb\r\n0;x\r\nA: 1\r\nB: 2\r\n\r\nrest",
	} {
		f.Add([]byte(s), int64(0), uint8(16))
	}
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), int64(3), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, max int64, readSize uint8) {
		var tr Header
		b, _ := newBody(string(in), chunked, max, &tr)
		var got []byte
		p := make([]byte, int(readSize)+1)
		var err error
		for {
			var n int
			n, err = b.Read(p)
			require.LessOrEqual(t, n, len(p))
			got = append(got, p[:n]...)
			if err != nil {
				break
			}
		}
		if max > 0 {
			require.LessOrEqual(t, int64(len(got)), max)
		}
		require.LessOrEqual(t, len(got), len(in), "body from nowhere")
		if err == io.EOF {
			require.True(t, b.done())
			tr.VisitAll(func(k, v []byte) {
				require.True(t, validToken(k))
				require.True(t, validFieldValue(v))
			})
			// Re-reading with appendTo gives the same body.
			b2, _ := newBody(string(in), chunked, max, nil)
			again, err2 := b2.appendTo(nil)
			require.NoError(t, err2)
			require.Equal(t, string(got), string(again))
			return
		}
		checkParseErr(t, err)
		require.False(t, b.done())
		_, err2 := b.Read(p)
		require.Equal(t, err, err2, "sticky error")
	})
}
