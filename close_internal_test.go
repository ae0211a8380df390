// Client.Close stopping a dial in progress, seen from the pool.

package asynchttp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCloseCancelsDialInProgress: a dial blocked in Config.Dial is
// stopped by Close (the dial's one context is tracked) and the caller gets
// ErrClientClosed.
func TestCloseCancelsDialInProgress(t *testing.T) {
	entered := make(chan struct{}, 1)
	c := New(Config{Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := preparedRequest(t, "10.0.0.9")
	done := make(chan error, 1)
	go func() {
		_, err := c.pool.acquire(ctx, req, false)
		done <- err
	}()
	<-entered
	require.NoError(t, c.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrClientClosed)
	case <-ctx.Done():
		t.Fatal("dial not stopped by Close")
	}
	require.Empty(t, c.pool.checkInvariants())
}
