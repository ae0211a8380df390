//go:build unix

// The non-blocking MSG_PEEK behind conn.alive.

package asynchttp

import "syscall"

// peek looks at the socket without blocking and without consuming
// anything, and reports whether the conn may be reused.
func (c *conn) peek() bool {
	n, _, err := syscall.Recvfrom(int(c.fd), c.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
		return true // nothing to read: open and quiet
	case err != nil || n == 0:
		return false // reset, or closed by the server
	}
	// Bytes are waiting. On plain HTTP nobody asked for them; on TLS they
	// may be a session ticket, so only EOF condemns the conn.
	return c.isTLS
}
