// RoundTrip as an http.RoundTripper: streamed bodies, reuse, gzip,
// trailers, Host, Connection: close, request bodies, early Close.

package asynchttp_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
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

func TestRoundTripReusesConns(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("n"))
	}))
	hc := &http.Client{Transport: c}
	for i := range 5 {
		resp, body := httpGet(t, hc, fmt.Sprintf("%s/p?n=%d", srv.URL(), i))
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, "200 OK", resp.Status)
		assert.Equal(t, fmt.Sprintf("hello %d", i), body)
		assert.Equal(t, "/p", resp.Header.Get("X-Path"))
		assert.Equal(t, []string{"a", "b"}, resp.Header.Values("X-Multi"))
	}
	assert.Equal(t, 1, srv.Accepted())
	assert.Equal(t, uint64(4), c.Stats().Reused)
}

func TestRoundTripStreamsLargeBodies(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxResponseBodyBytes: -1})
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			for i := 0; i < len(payload); i += 32 << 10 {
				w.Write(payload[i : i+32<<10])
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Write(payload)
	}))
	hc := &http.Client{Transport: c}
	for _, path := range []string{"/length", "/chunked"} {
		req, err := http.NewRequestWithContext(testCtx(t), "GET", srv.URL()+path, nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		h := sha256.New()
		n, err := io.CopyBuffer(h, resp.Body, make([]byte, 1000))
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, int64(len(payload)), n, path)
		assert.Equal(t, sha256.Sum256(payload), [32]byte(h.Sum(nil)), path)
	}
	assert.Equal(t, 1, srv.Accepted())
}

func TestRoundTripEarlyBodyCloseDrainsOrCloses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		size   int
		reused bool
	}{
		{"small remainder drained", 10 << 10, true},
		{"large remainder closes", 1 << 20, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{})
			srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(tt.size))
				w.Write(make([]byte, tt.size))
			}))
			hc := &http.Client{Transport: c}
			req, err := http.NewRequestWithContext(testCtx(t), "GET", srv.URL(), nil)
			require.NoError(t, err)
			resp, err := hc.Do(req)
			require.NoError(t, err)
			_, err = resp.Body.Read(make([]byte, 100))
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			_, err = resp.Body.Read(make([]byte, 1))
			require.Error(t, err, "read after close")
			_, _ = httpGet(t, hc, srv.URL())
			if tt.reused {
				assert.Equal(t, 1, srv.Accepted())
			} else {
				assert.Equal(t, 2, srv.Accepted())
			}
		})
	}
}

func TestRoundTripDecodesGzipTransparently(t *testing.T) {
	const text = "compressible compressible compressible"
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			io.WriteString(w, text)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, text)
		zw.Close()
	})
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprint("DisableCompression=", disable), func(t *testing.T) {
			c := newClient(t, asynchttp.Config{DisableCompression: disable})
			srv := testserver.NewCounting(t, handler)
			resp, body := httpGet(t, &http.Client{Transport: c}, srv.URL())
			assert.Equal(t, text, body)
			assert.Equal(t, !disable, resp.Uncompressed)
			assert.Empty(t, resp.Header.Get("Content-Encoding"))
			// The caller's own Accept-Encoding turns transparency off.
			req, err := http.NewRequestWithContext(testCtx(t), "GET", srv.URL(), nil)
			require.NoError(t, err)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err = c.RoundTrip(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
			assert.False(t, resp.Uncompressed)
		})
	}
}

func TestRoundTripTrailersHostOverrideAndClose(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("X-Host", r.Host)
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Checksum", "abc")
	}))
	hc := &http.Client{Transport: c}
	req, err := http.NewRequestWithContext(testCtx(t), "GET", srv.URL(), nil)
	require.NoError(t, err)
	req.Host = "virtual.example"
	req.Close = true
	resp, err := hc.Do(req)
	require.NoError(t, err)
	assert.Equal(t, "virtual.example", resp.Header.Get("X-Host"))
	_, hasKey := resp.Trailer["X-Checksum"]
	assert.True(t, hasKey, "announced trailer key present before the body is read")
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "body", string(b))
	assert.Equal(t, "abc", resp.Trailer.Get("X-Checksum"))
	assert.Zero(t, c.Stats().Open, "req.Close: the conn is not kept")
}

func TestRoundTripSendsSizedAndChunkedBodies(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %v %s", r.Method, r.ContentLength, r.TransferEncoding, b)
	}))
	hc := &http.Client{Transport: c}
	ctx := testCtx(t)

	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL(), strings.NewReader("known"))
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "POST 5 [] known", string(b))

	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("stre"))
		pw.Write([]byte("amed"))
		pw.Close()
	}()
	req, err = http.NewRequestWithContext(ctx, "PUT", srv.URL(), pr)
	require.NoError(t, err)
	resp, err = hc.Do(req)
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "PUT -1 [chunked] streamed", string(b))
}

// failingBody errors after its first bytes.
type failingBody struct{ n int }

func (f *failingBody) Read(p []byte) (int, error) {
	if f.n > 0 {
		return 0, errors.New("disk on fire")
	}
	f.n++
	return copy(p, "abc"), nil
}

func (f *failingBody) Close() error { return nil }

func TestRoundTripReturnsRequestBodyError(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	req, err := http.NewRequestWithContext(testCtx(t), "POST", srv.URL(), &failingBody{})
	require.NoError(t, err)
	_, err = c.RoundTrip(req)
	require.ErrorContains(t, err, "disk on fire")
	assert.NotErrorIs(t, err, asynchttp.ErrServerClosedConn)
	assert.Zero(t, c.Stats().Open)
}

func TestRoundTripCloseUnblocksRead(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		testserver.ReadRequest(bufio.NewReader(nc))
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
		nc.Read(make([]byte, 1))
	})
	req, err := http.NewRequestWithContext(testCtx(t), "GET", srv.URL(), nil)
	require.NoError(t, err)
	resp, err := c.RoundTrip(req)
	require.NoError(t, err)
	readErr := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 10))
		readErr <- err
	}()
	// Close may run before or during the Read: either way the Read ends.
	require.NoError(t, resp.Body.Close())
	select {
	case err := <-readErr:
		require.Error(t, err)
	case <-testCtx(t).Done():
		t.Fatal("Read not unblocked by Close")
	}
	eventually(t, "conn closed", func() bool { return c.Stats().Open == 0 })
}

func TestRoundTripBodilessResponsesKeepTheConn(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			io.WriteString(w, "body")
		}
	}))
	hc := &http.Client{Transport: c}
	ctx := testCtx(t)
	for _, tt := range []struct{ method, path string }{{"HEAD", "/"}, {"GET", "/204"}, {"GET", "/304"}, {"GET", "/"}} {
		req, err := http.NewRequestWithContext(ctx, tt.method, srv.URL()+tt.path, nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		if tt.path == "/" && tt.method == "GET" {
			assert.Equal(t, "body", string(b))
		} else {
			assert.Empty(t, b)
		}
	}
	assert.Equal(t, 1, srv.Accepted())
}

func TestRoundTripHeaderCanonicalisation(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := rawServer(t, func(string) (string, bool) {
		return "HTTP/1.1 299 Custom Reason\r\ncontent-type: text/plain\r\nx-CUSTOM-thing: 1\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 2\r\n\r\nok", false
	})
	resp, body := httpGet(t, &http.Client{Transport: c}, srv.URL())
	assert.Equal(t, "ok", body)
	assert.Equal(t, "299 Custom Reason", resp.Status)
	assert.Equal(t, "HTTP/1.1", resp.Proto)
	assert.Equal(t, http.Header{
		"Content-Type":   {"text/plain"},
		"X-Custom-Thing": {"1"},
		"Set-Cookie":     {"a=1", "b=2"},
		"Content-Length": {"2"},
	}, resp.Header)
	// Appending to one key's values must not clobber another's.
	resp.Header["X-Custom-Thing"] = append(resp.Header["X-Custom-Thing"], "2")
	assert.Equal(t, []string{"a=1", "b=2"}, resp.Header["Set-Cookie"])
}

func TestRoundTripInMemoryBodiesAndShortBodyRefused(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %s", r.ContentLength, b)
	}))
	ctx := testCtx(t)
	for _, body := range []string{"x", strings.Repeat("y", 64<<10), strings.Repeat("z", 64<<10+1)} {
		req, err := http.NewRequestWithContext(ctx, "POST", srv.URL(), strings.NewReader(body))
		require.NoError(t, err)
		resp, err := c.RoundTrip(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, fmt.Sprintf("%d %s", len(body), body), string(b))
	}
	// A body shorter than its ContentLength is refused before anything goes out.
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL(), strings.NewReader("short"))
	require.NoError(t, err)
	req.ContentLength = 10
	_, err = c.RoundTrip(req)
	require.Error(t, err)
	assert.Equal(t, 1, srv.Accepted())
}
