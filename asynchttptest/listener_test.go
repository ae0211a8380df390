// Listener: Dial meets Accept over in-memory conns, each with its own
// address, until Close.

package asynchttptest_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynchttp/asynchttp/asynchttptest"
)

func TestListenerDialAccept(t *testing.T) {
	l := asynchttptest.NewListener()
	defer l.Close()
	assert.Equal(t, "asynchttp.test:80", l.Addr().String())

	for range 2 {
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			assert.NoError(t, err)
			accepted <- c
		}()
		cc, err := l.Dial(context.Background(), "tcp", "ignored.example:443")
		require.NoError(t, err)
		sc := <-accepted
		assert.Equal(t, l.Addr(), cc.RemoteAddr())
		assert.Equal(t, l.Addr(), sc.LocalAddr())
		assert.Equal(t, cc.LocalAddr(), sc.RemoteAddr())

		_, err = cc.Write([]byte("ping"))
		require.NoError(t, err)
		require.NoError(t, cc.Close())
		got, err := io.ReadAll(sc)
		require.NoError(t, err)
		assert.Equal(t, "ping", string(got))
		sc.Close()
	}
}

func TestListenerClientAddrsDiffer(t *testing.T) {
	l := asynchttptest.NewListener()
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	seen := map[string]bool{}
	for range 10 {
		c, err := l.Dial(context.Background(), "tcp", "x:1")
		require.NoError(t, err)
		seen[c.LocalAddr().String()] = true
		c.Close()
	}
	assert.Len(t, seen, 10)
}

func TestListenerDialWaitsForAccept(t *testing.T) {
	l := asynchttptest.NewListener()
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := l.Dial(ctx, "tcp", "x:1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = l.Dial(ctx, "tcp", "x:1")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestListenerClose(t *testing.T) {
	l := asynchttptest.NewListener()
	dialErr := make(chan error, 1)
	go func() {
		_, err := l.Dial(context.Background(), "tcp", "x:1")
		dialErr <- err
	}()
	acceptErr := make(chan error, 1)
	l2 := asynchttptest.NewListener()
	go func() {
		_, err := l2.Accept()
		acceptErr <- err
	}()
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, l.Close())
	require.NoError(t, l2.Close())
	assert.ErrorIs(t, <-dialErr, net.ErrClosed, "pending dial")
	assert.ErrorIs(t, <-acceptErr, net.ErrClosed, "pending accept")

	_, err := l.Dial(context.Background(), "tcp", "x:1")
	assert.ErrorIs(t, err, net.ErrClosed, "later dial")
	_, err = l.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "later accept")
	assert.NoError(t, l.Close(), "idempotent")
}
