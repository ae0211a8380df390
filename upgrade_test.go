// Protocol upgrades through RoundTrip: a 101 Switching Protocols response
// hands the connection to the caller as its body, as with net/http.

package asynchttp_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upgradeServer answers an upgrade request with 101 and, in the same
// write, the first bytes of the new protocol ("early"), then echoes lines
// until the client half-closes, answers "bye" and closes. It reports each
// request head it read on heads.
func upgradeServer(t *testing.T, heads chan<- *http.Request) *testserver.Scripted {
	return testserver.NewScripted(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, _, err := testserver.ReadRequest(br)
		if err != nil {
			return
		}
		if heads != nil {
			heads <- req
		}
		if req.Header.Get("Upgrade") == "" {
			testserver.Respond(c, 400, "no upgrade")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly\n")
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				io.WriteString(c, "bye\n") // after the client's half-close
				return
			}
			io.WriteString(c, "echo "+line)
		}
	})
}

func upgradeRequest(t *testing.T, ctx context.Context, url string) *http.Request {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	return req
}

func TestUpgradeBodyIsTheConnection(t *testing.T) {
	var mu sync.Mutex
	var closed []asynchttp.CloseReason
	c := newClient(t, asynchttp.Config{Events: asynchttp.Events{
		ConnClosed: func(_ asynchttp.ConnInfo, why asynchttp.CloseReason) {
			mu.Lock()
			closed = append(closed, why)
			mu.Unlock()
		},
	}})
	srv := upgradeServer(t, nil)
	hc := &http.Client{Transport: c}

	resp, err := hc.Do(upgradeRequest(t, testCtx(t), srv.URL()))
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "echo", resp.Header.Get("Upgrade"))
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	require.True(t, ok, "a 101's body is an io.ReadWriteCloser, got %T", resp.Body)
	defer rwc.Close()
	require.NoError(t, rwc.(net.Conn).SetDeadline(time.Now().Add(10*time.Second)))

	br := bufio.NewReader(rwc)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "early\n", line, "bytes read with the head come first")
	_, err = io.WriteString(rwc, "ping\n")
	require.NoError(t, err)
	line, err = br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "echo ping\n", line)

	// The conn has left the pool: its slots are free, and it counts as
	// closed with CloseUpgraded.
	st := c.Stats()
	assert.Equal(t, 0, st.Open)
	assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseUpgraded])
	assert.Equal(t, "upgraded", asynchttp.CloseUpgraded.String())
	mu.Lock()
	assert.Equal(t, []asynchttp.CloseReason{asynchttp.CloseUpgraded}, closed)
	mu.Unlock()
}

func TestUpgradeHalfCloseAndClose(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := upgradeServer(t, nil)
	resp, err := (&http.Client{Transport: c}).Do(upgradeRequest(t, testCtx(t), srv.URL()))
	require.NoError(t, err)
	rwc := resp.Body.(io.ReadWriteCloser)
	rwc.(net.Conn).SetDeadline(time.Now().Add(10 * time.Second))

	cw, ok := rwc.(interface{ CloseWrite() error })
	require.True(t, ok, "the upgraded body can half-close")
	require.NoError(t, cw.CloseWrite())
	// The server sees EOF, answers "bye" and closes: the read side still
	// works after our half-close.
	rest, err := io.ReadAll(rwc)
	require.NoError(t, err)
	assert.Equal(t, "early\nbye\n", string(rest))
	require.NoError(t, rwc.Close())
}

func TestUpgradeOutlivesTheRequestContext(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := upgradeServer(t, nil)
	ctx, cancel := context.WithTimeout(testCtx(t), time.Hour)
	resp, err := (&http.Client{Transport: c}).Do(upgradeRequest(t, ctx, srv.URL()))
	require.NoError(t, err)
	rwc := resp.Body.(io.ReadWriteCloser)
	defer rwc.Close()
	// Ending the request's context after the 101 leaves the stream alone.
	cancel()

	rwc.(net.Conn).SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(rwc)
	_, err = br.ReadString('\n') // "early"
	require.NoError(t, err)
	_, err = io.WriteString(rwc, "still there\n")
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "echo still there\n", line)
}

func TestUpgradeFreesItsSlotsAtOnce(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1, MaxTotalConns: 1, AcquireTimeout: -1})
	srv := upgradeServer(t, nil)
	hc := &http.Client{Transport: c}
	resp, err := hc.Do(upgradeRequest(t, testCtx(t), srv.URL()))
	require.NoError(t, err)
	defer resp.Body.Close()

	// With both caps at 1 and no waiting allowed, a second upgrade to the
	// same host succeeds only because the first no longer holds a slot.
	resp2, err := hc.Do(upgradeRequest(t, testCtx(t), srv.URL()))
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp2.StatusCode)
	resp2.Body.Close()
	assert.Equal(t, uint64(2), c.Stats().ClosedBy[asynchttp.CloseUpgraded])
}

func TestUpgradeRequestOnRetiringConnKeepsConnectionUpgrade(t *testing.T) {
	heads := make(chan *http.Request, 1)
	// MaxRequestsPerConn 1: the request would carry "Connection: close";
	// an upgrade request must not, or the server refuses the upgrade.
	c := newClient(t, asynchttp.Config{MaxRequestsPerConn: 1})
	srv := upgradeServer(t, heads)
	resp, err := (&http.Client{Transport: c}).Do(upgradeRequest(t, testCtx(t), srv.URL()))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	head := <-heads
	assert.Equal(t, []string{"Upgrade"}, head.Header["Connection"])
}

func TestSwitchingProtocolsWithoutUpgradeFieldsHasNoBody(t *testing.T) {
	// net/http hands the conn over only when the 101 says what it
	// switches to; otherwise the body is empty and the conn closed.
	for _, tr := range referenceTransports(t) {
		t.Run(tr.name, func(t *testing.T) {
			srv := testserver.NewScripted(t, func(c net.Conn) {
				if _, _, err := testserver.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
			})
			resp, err := (&http.Client{Transport: tr.rt}).Do(upgradeRequest(t, testCtx(t), srv.URL()))
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, 101, resp.StatusCode)
			_, isRWC := resp.Body.(io.Writer)
			assert.False(t, isRWC)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Empty(t, b)
		})
	}
}

// referenceTransports returns the transport under test beside net/http's
// own, so a test can require the same outcome from both.
func referenceTransports(t *testing.T) []struct {
	name string
	rt   http.RoundTripper
} {
	ref := &http.Transport{}
	t.Cleanup(ref.CloseIdleConnections)
	return []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net/http", ref},
		{"asynchttp", newClient(t, asynchttp.Config{})},
	}
}
