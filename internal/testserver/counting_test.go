// Counting servers: conns and requests counted with and without
// keep-alive, peaks, WaitOpen, and Close.

package testserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const waitTimeout = 5 * time.Second

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "hello")
})

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(b)
}

func TestCountingNoKeepAlive(t *testing.T) {
	noLeaks(t)
	s := NewCounting(t, hello)
	assert.True(t, strings.HasPrefix(s.Addr(), "127.0.0.1:"), s.Addr())
	assert.Equal(t, "http://"+s.Addr(), s.URL())
	client := newClient(t, false)

	for range 3 {
		assert.Equal(t, "hello", get(t, client, s.URL()))
	}
	s.WaitOpen(t, 0, waitTimeout)
	assert.Equal(t, 3, s.Accepted())
	assert.Equal(t, 3, s.Requests())
	assert.GreaterOrEqual(t, s.MaxOpen(), 1)
	assert.Equal(t, 0, s.Open())
}

func TestCountingKeepAlive(t *testing.T) {
	noLeaks(t)
	s := NewCounting(t, hello)
	client := newClient(t, true)

	for range 3 {
		get(t, client, s.URL())
	}
	assert.Equal(t, 1, s.Accepted())
	assert.Equal(t, 3, s.Requests())
	assert.Equal(t, 1, s.Open())
	assert.Equal(t, 1, s.MaxOpen())

	client.CloseIdleConnections()
	s.WaitOpen(t, 0, waitTimeout)
	assert.Equal(t, 1, s.MaxOpen(), "MaxOpen keeps the peak")
	s.ResetMax()
	assert.Equal(t, 0, s.MaxOpen())
}

func TestCountingServerClosesConn(t *testing.T) {
	noLeaks(t)
	s := NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
	}))
	client := newClient(t, true)
	get(t, client, s.URL())
	s.WaitOpen(t, 0, waitTimeout) // the server, not the client, closed it
	assert.Equal(t, 1, s.Accepted())
}

func TestCountingMaxOpen(t *testing.T) {
	noLeaks(t)
	const n = 3
	entered, release := make(chan struct{}, n), make(chan struct{})
	s := NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	client := newClient(t, true)

	errs := make(chan error, n)
	for range n {
		go func() {
			resp, err := client.Get(s.URL())
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	for range n {
		<-entered
	}
	assert.Equal(t, n, s.Open())
	assert.Equal(t, n, s.MaxOpen())
	assert.Equal(t, n, s.Requests())

	close(release)
	for range n {
		require.NoError(t, <-errs)
	}
	client.CloseIdleConnections()
	s.WaitOpen(t, 0, waitTimeout)
	assert.Equal(t, n, s.MaxOpen())
	s.ResetMax()
	assert.Equal(t, 0, s.MaxOpen())

	get(t, client, s.URL())
	assert.Equal(t, 1, s.MaxOpen())
	assert.Equal(t, n+1, s.Accepted())
}

func TestCountingWaitOpenTimeout(t *testing.T) {
	noLeaks(t)
	s := NewCounting(t, hello)
	var tb fakeTB
	start := time.Now()
	s.WaitOpen(&tb, 1, 20*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	require.Len(t, tb.failures, 1)
	assert.Equal(t, "fatal: testserver: 0 connection(s) open after 20ms, want 1", tb.failures[0])

	tb = fakeTB{}
	s.WaitOpen(&tb, 0, 0) // already true: no wait, even with no time
	assert.Empty(t, tb.failures)
}

func TestCountingCloseUnblocksHandler(t *testing.T) {
	noLeaks(t)
	entered, exited := make(chan struct{}), make(chan struct{})
	s := NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // canceled once the conn is closed
		close(exited)
	}))
	client := newClient(t, true)

	errc := make(chan error, 1)
	go func() {
		resp, err := client.Get(s.URL())
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	s.Close()
	select {
	case <-exited:
	default:
		t.Fatal("Close returned before the handler")
	}
	assert.Error(t, <-errc)
	assert.Equal(t, 0, s.Open())
	s.Close() // idempotent

	_, err := client.Get(s.URL())
	assert.Error(t, err, "listener closed")
}

func TestCountingCloseWithIdleConn(t *testing.T) {
	noLeaks(t)
	s := NewCounting(t, hello)
	client := newClient(t, true)
	get(t, client, s.URL())
	require.Equal(t, 1, s.Open())
	s.Close()
	assert.Equal(t, 0, s.Open(), "Close waits for the conn to be counted closed")
}

func TestNewMany(t *testing.T) {
	noLeaks(t)
	servers := NewMany(t, 3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Host)
	}))
	require.Len(t, servers, 3)
	client := newClient(t, false)
	addrs := map[string]bool{}
	for _, s := range servers {
		addrs[s.Addr()] = true
		assert.Equal(t, s.Addr(), get(t, client, s.URL()))
	}
	assert.Len(t, addrs, 3, "distinct ports")
	for _, s := range servers {
		assert.Equal(t, 1, s.Requests())
		assert.Equal(t, 1, s.Accepted())
	}
}

func TestCountingContextAware(t *testing.T) {
	// A request the client abandons is still counted, and its conn is
	// closed by the client.
	noLeaks(t)
	entered := make(chan struct{})
	s := NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	}))
	client := newClient(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL(), nil)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled)
	s.WaitOpen(t, 0, waitTimeout)
	assert.Equal(t, 1, s.Requests())
}
