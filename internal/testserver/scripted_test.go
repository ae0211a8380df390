// Scripted servers: Close unblocks and waits for scripts, and the raw
// request reader and response writer.

package testserver

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScriptedCloseUnblocksRead(t *testing.T) {
	noLeaks(t)
	entered := make(chan struct{})
	readErr := make(chan error, 1)
	s := NewScripted(t, func(c net.Conn) {
		close(entered)
		_, err := c.Read(make([]byte, 1)) // the client never writes
		readErr <- err
	})
	assert.Equal(t, 0, s.Accepted())
	assert.True(t, strings.HasPrefix(s.Addr(), "127.0.0.1:"), s.Addr())
	assert.Equal(t, "http://"+s.Addr(), s.URL())

	c, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer c.Close()
	<-entered
	assert.Equal(t, 1, s.Accepted())

	s.Close() // returns only once the handler has
	select {
	case err := <-readErr:
		assert.Error(t, err)
	default:
		t.Fatal("Close returned before the handler")
	}
	s.Close() // idempotent

	// The client sees the close, and the listener is gone.
	_, err = c.Read(make([]byte, 1))
	assert.Error(t, err)
	_, err = net.Dial("tcp", s.Addr())
	assert.Error(t, err)
}

func TestScriptedConcurrentClose(t *testing.T) {
	noLeaks(t)
	entered := make(chan struct{}, 2)
	s := NewScripted(t, func(c net.Conn) {
		entered <- struct{}{}
		io.Copy(io.Discard, c)
	})
	for range 2 {
		c, err := net.Dial("tcp", s.Addr())
		require.NoError(t, err)
		defer c.Close()
		<-entered
	}
	assert.Equal(t, 2, s.Accepted())
	done := make(chan struct{})
	for range 3 {
		go func() {
			s.Close()
			done <- struct{}{}
		}()
	}
	for range 3 {
		<-done
	}
}

func TestScriptedHandlerReturnsEarly(t *testing.T) {
	noLeaks(t)
	s := NewScripted(t, func(net.Conn) {}) // closes every conn at once
	for i := 1; i <= 3; i++ {
		c, err := net.Dial("tcp", s.Addr())
		require.NoError(t, err)
		b, err := io.ReadAll(c)
		assert.NoError(t, err, "EOF, not an error")
		assert.Empty(t, b)
		c.Close()
		assert.Equal(t, i, s.Accepted())
	}
}

func TestScriptedRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name    string
		body    io.Reader
		chunked bool
	}{
		{"no body", nil, false},
		{"content-length", strings.NewReader("ping"), false},
		// A reader net/http cannot measure is sent chunked.
		{"chunked", io.MultiReader(strings.NewReader("pi"), strings.NewReader("ng")), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			type got struct {
				req  *http.Request
				body []byte
				err  error
			}
			reqs := make(chan got, 1)
			s := NewScripted(t, func(c net.Conn) {
				req, body, err := ReadRequest(bufio.NewReader(c))
				reqs <- got{req, body, err}
				if err == nil {
					assert.NoError(t, Respond(c, http.StatusTeapot, "hello", "X-Test: yes", "Connection: close"))
				}
			})
			client := newClient(t, false)

			method := http.MethodGet
			if tt.body != nil {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, s.URL()+"/path?q=1", tt.body)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)

			assert.Equal(t, http.StatusTeapot, resp.StatusCode)
			assert.Equal(t, "418 I'm a teapot", resp.Status)
			assert.Equal(t, "yes", resp.Header.Get("X-Test"))
			assert.Equal(t, int64(5), resp.ContentLength)
			assert.Equal(t, "hello", string(body))

			g := <-reqs
			require.NoError(t, g.err)
			assert.Equal(t, method, g.req.Method)
			assert.Equal(t, "/path?q=1", g.req.RequestURI)
			assert.Equal(t, s.Addr(), g.req.Host)
			if tt.body == nil {
				assert.Empty(t, g.body)
			} else {
				assert.Equal(t, "ping", string(g.body))
				again, err := io.ReadAll(g.req.Body)
				require.NoError(t, err)
				assert.Equal(t, "ping", string(again), "Body rereads the same bytes")
			}
			if tt.chunked {
				assert.Equal(t, []string{"chunked"}, g.req.TransferEncoding)
			}
		})
	}
}

func TestReadRequest(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		body     string
		wantErr  bool
	}{
		{"get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "", false},
		{"content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcNEXT", "abc", false},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n", "abc", false},
		{"garbage", "NOT HTTP\r\n\r\n", "", true},
		{"eof", "", "", true},
		{"short body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc", "abc", true},
		{"bad chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			req, body, err := ReadRequest(br)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, req)
			assert.Equal(t, tt.body, string(body))
		})
	}

	// Two pipelined requests come out one at a time.
	br := bufio.NewReader(strings.NewReader(
		"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nxGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"))
	req, body, err := ReadRequest(br)
	require.NoError(t, err)
	assert.Equal(t, "/1", req.URL.Path)
	assert.Equal(t, "x", string(body))
	req, _, err = ReadRequest(br)
	require.NoError(t, err)
	assert.Equal(t, "/2", req.URL.Path)
}

func TestRespond(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
		extra  []string
		want   string
	}{
		{"ok", 200, "hi", nil, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"},
		{"empty body", 204, "", nil, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"},
		{"extra headers", 404, "no", []string{"A: 1", "B: 2"},
			"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nA: 1\r\nB: 2\r\n\r\nno"},
		{"unknown status", 599, "", nil, "HTTP/1.1 599 status\r\nContent-Length: 0\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			s := NewScripted(t, func(c net.Conn) {
				assert.NoError(t, Respond(c, tt.status, tt.body, tt.extra...))
			})
			c, err := net.Dial("tcp", s.Addr())
			require.NoError(t, err)
			defer c.Close()
			got, err := io.ReadAll(c) // the conn closes after the handler
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestRespondClosedConn(t *testing.T) {
	a, b := net.Pipe()
	b.Close()
	assert.Error(t, Respond(a, 200, "x"))
	a.Close()
}
