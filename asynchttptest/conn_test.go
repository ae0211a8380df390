// In-memory conns: buffered writes, deadlines, Close, addresses and full
// duplex traffic.

package asynchttptest_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynchttp/asynchttp/asynchttptest"
)

func pipe(t *testing.T) (a, b *asynchttptest.Conn) {
	t.Helper()
	a, b = asynchttptest.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// within runs f and fails t unless it returns within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %v", what, d)
	}
}

// readAsync starts a Read of up to n bytes and returns a channel with its
// outcome.
type readResult struct {
	b   []byte
	err error
}

func readAsync(c net.Conn, n int) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		b := make([]byte, n)
		m, err := c.Read(b)
		ch <- readResult{b[:m], err}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked")
		return readResult{}
	}
}

func requireTimeout(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
}

func TestPipeWriteDoesNotWaitForReader(t *testing.T) {
	a, b := pipe(t)
	msg := bytes.Repeat([]byte("x"), asynchttptest.BufferSize)
	within(t, 5*time.Second, "write of BufferSize bytes with no reader", func() {
		n, err := a.Write(msg)
		assert.NoError(t, err)
		assert.Equal(t, len(msg), n)
	})
	got := make([]byte, len(msg))
	_, err := io.ReadFull(b, got)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
}

func TestPipeWriteBlocksWhenFull(t *testing.T) {
	a, b := pipe(t)
	require.NoError(t, a.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
	n, err := a.Write(make([]byte, asynchttptest.BufferSize+10))
	requireTimeout(t, err)
	assert.Equal(t, asynchttptest.BufferSize, n, "what fit was written")

	// With the deadline cleared, a reader draining the buffer unblocks a
	// write bigger than the buffer.
	require.NoError(t, a.SetWriteDeadline(time.Time{}))
	const big = 3*asynchttptest.BufferSize + 7
	go func() { io.Copy(io.Discard, io.LimitReader(b, int64(asynchttptest.BufferSize+big))) }()
	within(t, 5*time.Second, "write with a reader", func() {
		n, err := a.Write(make([]byte, big))
		assert.NoError(t, err)
		assert.Equal(t, big, n)
	})
}

func TestPipeDeadlines(t *testing.T) {
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, a, b *asynchttptest.Conn)
	}{
		{"read deadline fires", func(t *testing.T, a, b *asynchttptest.Conn) {
			start := time.Now()
			require.NoError(t, a.SetReadDeadline(start.Add(30*time.Millisecond)))
			_, err := a.Read(make([]byte, 1))
			requireTimeout(t, err)
			assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
		}},
		{"past deadline interrupts a blocked read", func(t *testing.T, a, b *asynchttptest.Conn) {
			ch := readAsync(a, 1)
			time.Sleep(10 * time.Millisecond)
			require.NoError(t, a.SetReadDeadline(time.Unix(1, 0)))
			requireTimeout(t, recv(t, ch).err)
		}},
		{"past deadline interrupts a blocked write", func(t *testing.T, a, b *asynchttptest.Conn) {
			errc := make(chan error, 1)
			go func() {
				_, err := a.Write(make([]byte, 2*asynchttptest.BufferSize))
				errc <- err
			}()
			time.Sleep(10 * time.Millisecond)
			require.NoError(t, a.SetDeadline(time.Unix(1, 0)))
			requireTimeout(t, <-errc)
		}},
		{"expired deadline wins over buffered bytes", func(t *testing.T, a, b *asynchttptest.Conn) {
			_, err := b.Write([]byte("hi"))
			require.NoError(t, err)
			require.NoError(t, a.SetReadDeadline(time.Now().Add(-time.Second)))
			_, err = a.Read(make([]byte, 2))
			requireTimeout(t, err)
		}},
		{"cleared deadline lets reads go on", func(t *testing.T, a, b *asynchttptest.Conn) {
			require.NoError(t, a.SetReadDeadline(time.Unix(1, 0)))
			_, err := a.Read(make([]byte, 1))
			requireTimeout(t, err)
			require.NoError(t, a.SetReadDeadline(time.Time{}))
			_, err = b.Write([]byte("ok"))
			require.NoError(t, err)
			r := recv(t, readAsync(a, 2))
			require.NoError(t, r.err)
			assert.Equal(t, "ok", string(r.b))
		}},
		{"extended deadline while blocked", func(t *testing.T, a, b *asynchttptest.Conn) {
			require.NoError(t, a.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
			ch := readAsync(a, 2)
			require.NoError(t, a.SetReadDeadline(time.Now().Add(time.Hour)))
			time.Sleep(50 * time.Millisecond)
			_, err := b.Write([]byte("ok"))
			require.NoError(t, err)
			r := recv(t, ch)
			require.NoError(t, r.err)
			assert.Equal(t, "ok", string(r.b))
		}},
		{"read deadline leaves writes alone", func(t *testing.T, a, b *asynchttptest.Conn) {
			require.NoError(t, a.SetReadDeadline(time.Unix(1, 0)))
			_, err := a.Write([]byte("w"))
			require.NoError(t, err)
		}},
		{"write deadline leaves reads alone", func(t *testing.T, a, b *asynchttptest.Conn) {
			require.NoError(t, a.SetWriteDeadline(time.Unix(1, 0)))
			_, err := a.Write([]byte("w"))
			requireTimeout(t, err)
			_, err = b.Write([]byte("r"))
			require.NoError(t, err)
			r := recv(t, readAsync(a, 1))
			require.NoError(t, r.err)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := pipe(t)
			tt.run(t, a, b)
		})
	}
}

func TestPipeClose(t *testing.T) {
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, a, b *asynchttptest.Conn)
	}{
		{"peer reads buffered bytes then EOF", func(t *testing.T, a, b *asynchttptest.Conn) {
			_, err := a.Write([]byte("last words"))
			require.NoError(t, err)
			require.NoError(t, a.Close())
			got, err := io.ReadAll(b)
			require.NoError(t, err, "io.ReadAll treats io.EOF as success")
			assert.Equal(t, "last words", string(got))
			_, err = b.Read(make([]byte, 1))
			assert.Equal(t, io.EOF, err, "EOF again")
		}},
		{"close wakes the peer's blocked read with EOF", func(t *testing.T, a, b *asynchttptest.Conn) {
			ch := readAsync(b, 1)
			time.Sleep(10 * time.Millisecond)
			a.Close()
			assert.Equal(t, io.EOF, recv(t, ch).err)
		}},
		{"peer writes fail", func(t *testing.T, a, b *asynchttptest.Conn) {
			a.Close()
			_, err := b.Write([]byte("x"))
			assert.ErrorIs(t, err, io.ErrClosedPipe)
		}},
		{"close wakes the peer's write blocked on a full buffer", func(t *testing.T, a, b *asynchttptest.Conn) {
			errc := make(chan error, 1)
			go func() {
				_, err := b.Write(make([]byte, 2*asynchttptest.BufferSize))
				errc <- err
			}()
			time.Sleep(10 * time.Millisecond)
			a.Close()
			assert.ErrorIs(t, <-errc, io.ErrClosedPipe)
		}},
		{"own calls fail with net.ErrClosed", func(t *testing.T, a, b *asynchttptest.Conn) {
			_, err := b.Write([]byte("unread"))
			require.NoError(t, err)
			a.Close()
			_, err = a.Read(make([]byte, 1))
			assert.ErrorIs(t, err, net.ErrClosed)
			_, err = a.Write([]byte("x"))
			assert.ErrorIs(t, err, net.ErrClosed)
			assert.ErrorIs(t, a.SetDeadline(time.Now()), net.ErrClosed)
			assert.ErrorIs(t, a.SetReadDeadline(time.Now()), net.ErrClosed)
			assert.ErrorIs(t, a.SetWriteDeadline(time.Now()), net.ErrClosed)
		}},
		{"close interrupts own blocked calls", func(t *testing.T, a, b *asynchttptest.Conn) {
			ch := readAsync(a, 1)
			errc := make(chan error, 1)
			go func() {
				_, err := a.Write(make([]byte, 2*asynchttptest.BufferSize))
				errc <- err
			}()
			time.Sleep(10 * time.Millisecond)
			a.Close()
			assert.ErrorIs(t, recv(t, ch).err, net.ErrClosed)
			assert.ErrorIs(t, <-errc, net.ErrClosed)
		}},
		{"close is idempotent", func(t *testing.T, a, b *asynchttptest.Conn) {
			assert.NoError(t, a.Close())
			assert.NoError(t, a.Close())
		}},
		{"CloseWrite half-closes", func(t *testing.T, a, b *asynchttptest.Conn) {
			_, err := a.Write([]byte("req"))
			require.NoError(t, err)
			require.NoError(t, a.CloseWrite())
			got, err := io.ReadAll(b)
			require.NoError(t, err)
			assert.Equal(t, "req", string(got))
			_, err = a.Write([]byte("more"))
			assert.Error(t, err)
			assert.NotErrorIs(t, err, net.ErrClosed)

			_, err = b.Write([]byte("resp"))
			require.NoError(t, err, "the other way is still open")
			require.NoError(t, b.Close())
			got, err = io.ReadAll(a)
			require.NoError(t, err)
			assert.Equal(t, "resp", string(got))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := pipe(t)
			tt.run(t, a, b)
		})
	}
}

func TestPipeAddrs(t *testing.T) {
	a, b := pipe(t)
	assert.Equal(t, a.LocalAddr(), b.RemoteAddr())
	assert.Equal(t, a.RemoteAddr(), b.LocalAddr())
	assert.NotEqual(t, a.LocalAddr(), b.LocalAddr())
	assert.Equal(t, "mem", a.LocalAddr().Network())
	host, port, err := net.SplitHostPort(a.LocalAddr().String())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEmpty(t, port)
}

// TestPipeFullDuplex streams 8 MiB each way at once, in odd-sized pieces,
// with reads and writes racing on both ends.
func TestPipeFullDuplex(t *testing.T) {
	a, b := pipe(t)
	const size = 8 << 20
	send := func(c net.Conn, data []byte, wg *sync.WaitGroup) {
		defer wg.Done()
		for len(data) > 0 {
			n := min(len(data), 1+len(data)%70001)
			_, err := c.Write(data[:n])
			if !assert.NoError(t, err) {
				return
			}
			data = data[n:]
		}
		assert.NoError(t, c.(*asynchttptest.Conn).CloseWrite())
	}
	sum := func(c net.Conn, out *[32]byte, wg *sync.WaitGroup) {
		defer wg.Done()
		h := sha256.New()
		n, err := io.CopyBuffer(h, c, make([]byte, 5000))
		assert.NoError(t, err)
		assert.EqualValues(t, size, n)
		copy(out[:], h.Sum(nil))
	}
	ab, ba := make([]byte, size), make([]byte, size)
	rand.Read(ab)
	rand.Read(ba)
	var gotAB, gotBA [32]byte
	var wg sync.WaitGroup
	wg.Add(4)
	go send(a, ab, &wg)
	go send(b, ba, &wg)
	go sum(b, &gotAB, &wg)
	go sum(a, &gotBA, &wg)
	within(t, 30*time.Second, "full-duplex transfer", wg.Wait)
	assert.Equal(t, sha256.Sum256(ab), gotAB)
	assert.Equal(t, sha256.Sum256(ba), gotBA)
}
