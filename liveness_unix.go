//go:build unix

// The non-blocking MSG_PEEK behind conn.alive.

package asynchttp

import "syscall"

// peek runs inside RawConn.Read: it looks at the socket without blocking
// and without consuming anything.
func (c *conn) peek(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), c.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
		c.peekOK = true // nothing to read: open and quiet
	case err != nil || n == 0:
		c.peekOK = false // reset, or closed by the server
	default:
		// Bytes are waiting. On plain HTTP nobody asked for them; on TLS
		// they may be a session ticket, so only EOF condemns the conn.
		c.peekOK = c.isTLS
	}
	return true // never wait for readability
}
