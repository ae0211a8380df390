// FuzzExchange: whole responses fed to a real Client over a fake
// connection, through Do and RoundTrip, checking what the caller sees and
// what the pool keeps.

package asynchttp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Bits of FuzzExchange's mode argument.
const (
	fuzzRoundTrip = 1 << iota // RoundTrip instead of Do
	fuzzHead                  // a HEAD request
	fuzzSmallBody             // MaxResponseBodyBytes = 64
	fuzzSmallHead             // MaxResponseHeaderBytes = 256
)

// FuzzExchange sends one GET (or HEAD) through a fresh Client whose only
// connection is a net.Pipe. The fake server reads the request head, writes
// in as the response in two writes split at split, and hangs up. Whatever
// in holds, the call ends without a hang, an error is one of the typed
// errors and leaves no connection behind, a success has a sane status and
// a body within the declared length and the limits, and the pool's
// accounting holds.
func FuzzExchange(f *testing.F) {
	for _, s := range []string{
		smallResponse,
		chunkedResponse,
		"HTTP/1.1 200 OK\r\n\r\nclose-delimited",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw bytes",
		"",
	} {
		f.Add([]byte(s), uint16(len(s)/2), uint8(0))
	}
	f.Add([]byte(smallResponse), uint16(3), uint8(fuzzRoundTrip))
	f.Add([]byte(chunkedResponse), uint16(40), uint8(fuzzRoundTrip|fuzzSmallBody))
	f.Add([]byte(smallResponse), uint16(0), uint8(fuzzHead))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"+strings.Repeat("a", 100)), uint16(50), uint8(fuzzSmallBody))
	f.Fuzz(func(t *testing.T, in []byte, split uint16, mode uint8) {
		cfg := Config{DisableCompression: true}
		if mode&fuzzSmallBody != 0 {
			cfg.MaxResponseBodyBytes = 64
		}
		if mode&fuzzSmallHead != 0 {
			cfg.MaxResponseHeaderBytes = 256
		}
		cliEnd, srvEnd := net.Pipe()
		cfg.Dial = func(context.Context, string, string) (net.Conn, error) { return cliEnd, nil }
		served := make(chan struct{})
		go func() {
			defer close(served)
			defer srvEnd.Close()
			br := bufio.NewReader(srvEnd)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 && strings.TrimRight(string(line), "\r\n") == "" {
					break
				}
			}
			at := min(int(split), len(in))
			if _, err := srvEnd.Write(in[:at]); err != nil {
				return
			}
			srvEnd.Write(in[at:])
		}()
		c := New(cfg)
		defer func() {
			c.Close()
			srvEnd.Close() // a conn the client still holds unblocks the writer
			<-served
		}()

		method := "GET"
		if mode&fuzzHead != 0 {
			method = "HEAD"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var (
			code    int
			cl      int64
			body    []byte
			err     error
			connHdr string
		)
		if mode&fuzzRoundTrip == 0 {
			req, resp := AcquireRequest(), AcquireResponse()
			defer ReleaseRequest(req)
			defer ReleaseResponse(resp)
			req.SetMethod(method)
			req.SetRequestURI("http://fuzz.test/")
			err = c.Do(ctx, req, resp)
			code, cl, body = resp.StatusCode, resp.ContentLength, resp.Body()
			connHdr = strings.Join(resp.Header.Values("Connection"), ",")
		} else {
			hreq, _ := http.NewRequestWithContext(ctx, method, "http://fuzz.test/", nil)
			var hresp *http.Response
			hresp, err = c.RoundTrip(hreq)
			if err == nil {
				code, cl = hresp.StatusCode, hresp.ContentLength
				connHdr = strings.Join(hresp.Header.Values("Connection"), ",")
				// Small reads: every framing state is met at a boundary.
				body, err = io.ReadAll(io.LimitReader(oneByteAtATime{hresp.Body}, int64(len(in))+1))
				require.NoError(t, hresp.Body.Close())
			}
		}
		require.NoError(t, ctx.Err(), "the exchange hung")
		require.Empty(t, c.pool.checkInvariants())
		st := c.Stats()
		require.Zero(t, st.InUse, "the conn is released or closed when the call returns")
		require.LessOrEqual(t, len(body), len(in), "body from nowhere")
		if cfg.MaxResponseBodyBytes > 0 {
			require.LessOrEqual(t, int64(len(body)), cfg.MaxResponseBodyBytes)
		}
		if err != nil {
			ok := errors.Is(err, ErrMalformedResponse) || errors.Is(err, ErrHeaderTooLarge) ||
				errors.Is(err, ErrBodyTooLarge) || errors.Is(err, io.ErrUnexpectedEOF) ||
				errors.Is(err, ErrServerClosedConn)
			require.True(t, ok, "untyped error %T: %v", err, err)
			require.Zero(t, st.Open, "a failed exchange's conn is closed, never pooled")
			require.Zero(t, st.Idle)
			return
		}
		require.GreaterOrEqual(t, code, 100)
		require.LessOrEqual(t, code, 999)
		if cl >= 0 && mode&fuzzHead == 0 {
			require.LessOrEqual(t, int64(len(body)), cl, "body past its Content-Length")
			if code >= 200 && code != 204 && code != 304 {
				require.Equal(t, cl, int64(len(body)), "a complete body has its declared length")
			}
		}
		if mode&fuzzHead != 0 {
			require.Empty(t, body, "HEAD has no body")
		}
		if listHasToken([]byte(connHdr), "close") {
			require.Zero(t, st.Idle, "Connection: close is not pooled")
		}
		require.LessOrEqual(t, st.Open, 1)
	})
}

// oneByteAtATime reads at most one byte per call.
type oneByteAtATime struct{ r io.Reader }

func (o oneByteAtATime) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}
