// ExecuteHandler: a Handler streams a response part by part, and may abort
// or panic at any callback.

package asynchttp_test

import (
	"bufio"
	"crypto/sha256"
	"hash"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hashHandler streams a body into a hash; it can abort at any callback.
type hashHandler struct {
	abortAt  string // "status", "headers", "body" or ""
	wantType string // abort at headers when Content-Type differs
	panicAt  string
	h        hash.Hash
	parts    int
	complete bool
	err      error
}

func (h *hashHandler) OnStatus(r *asynchttp.Response) asynchttp.Action {
	if h.panicAt == "status" {
		panic("status")
	}
	if h.abortAt == "status" {
		return asynchttp.Abort
	}
	return asynchttp.Continue
}

func (h *hashHandler) OnHeaders(r *asynchttp.Response) asynchttp.Action {
	if h.panicAt == "headers" {
		panic("headers")
	}
	if h.abortAt == "headers" || (h.wantType != "" && !strings.HasPrefix(r.Header.Get("Content-Type"), h.wantType)) {
		return asynchttp.Abort
	}
	h.h = sha256.New()
	return asynchttp.Continue
}

func (h *hashHandler) OnBodyPart(p []byte) asynchttp.Action {
	if h.panicAt == "body" {
		panic("body")
	}
	h.parts++
	h.h.Write(p)
	if h.abortAt == "body" {
		return asynchttp.Abort
	}
	return asynchttp.Continue
}

func (h *hashHandler) OnComplete(r *asynchttp.Response) {
	if h.panicAt == "complete" {
		panic("complete")
	}
	h.complete = true
}
func (h *hashHandler) OnError(err error) { h.err = err }

func TestHandlerStreamsAndAborts(t *testing.T) {
	big := strings.Repeat("x", 4<<20)
	small := strings.Repeat("y", 1000)
	for _, tt := range []struct {
		name     string
		path     string
		hh       hashHandler
		err      error
		panicked bool
		reused   bool // the next request to the host reuses the conn
	}{
		{name: "complete", path: "/big", reused: true},
		{name: "abort at status, small body drained", path: "/small", hh: hashHandler{abortAt: "status"}, err: asynchttp.ErrAborted, reused: true},
		{name: "abort at headers, big body closes", path: "/big", hh: hashHandler{abortAt: "headers"}, err: asynchttp.ErrAborted, reused: false},
		{name: "wrong content type", path: "/big", hh: hashHandler{wantType: "text/html"}, err: asynchttp.ErrAborted, reused: false},
		{name: "abort in body", path: "/big", hh: hashHandler{abortAt: "body"}, err: asynchttp.ErrAborted, reused: false},
		{name: "panic at status", path: "/small", hh: hashHandler{panicAt: "status"}, panicked: true},
		{name: "panic in body", path: "/big", hh: hashHandler{panicAt: "body"}, panicked: true},
		{name: "panic at complete", path: "/small", hh: hashHandler{panicAt: "complete"}, panicked: true, reused: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{})
			srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/pdf")
				switch r.URL.Path {
				case "/big":
					io.WriteString(w, big)
				case "/small":
					io.WriteString(w, small)
				default:
					io.WriteString(w, "next")
				}
			}))
			req := newReq(srv.URL() + tt.path)
			defer asynchttp.ReleaseRequest(req)
			h := tt.hh
			f := c.ExecuteHandler(testCtx(t), req, &h)
			resp, err := waitFuture(t, f)
			switch {
			case tt.panicked:
				var pe *asynchttp.PanicError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tt.hh.panicAt, pe.Value)
				assert.NoError(t, h.err, "OnError is not called for a panic")
			case tt.err != nil:
				require.ErrorIs(t, err, tt.err)
				assert.False(t, h.complete)
			default:
				require.NoError(t, err)
				assert.True(t, h.complete)
				assert.Equal(t, sha256.Sum256([]byte(big)), [32]byte(h.h.Sum(nil)))
				assert.Greater(t, h.parts, 1, "streamed in parts")
				assert.Empty(t, resp.Body(), "nothing buffered")
			}
			if resp != nil {
				assert.Equal(t, 200, resp.StatusCode)
				asynchttp.ReleaseResponse(resp)
			}
			_, body, err := get(testCtx(t), c, "GET", srv.URL()+"/next")
			require.NoError(t, err, "the host still works")
			assert.Equal(t, "next", body)
			if tt.reused {
				assert.Equal(t, 1, srv.Accepted())
			} else {
				assert.Equal(t, 2, srv.Accepted())
			}
		})
	}
}

func TestHandlerOnErrorGetsTheError(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		testserver.ReadRequest(bufio.NewReader(nc))
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut short")
	})
	req := newReq(srv.URL())
	defer asynchttp.ReleaseRequest(req)
	var h hashHandler
	_, err := waitFuture(t, c.ExecuteHandler(testCtx(t), req, &h))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, err, h.err)
	assert.False(t, h.complete)
}
