//go:build unix

// peerClosed on unix: a non-blocking MSG_PEEK.

package main

import (
	"net"
	"syscall"
)

// peerClosed reports whether the peer of c has closed it (the socket reads
// EOF or is reset), without reading from it or blocking. It runs through
// RawConn.Control, which does not wait for the server's own pending read.
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true // the server closed it already
	}
	closed := false
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
		case err != nil || n == 0:
			closed = true
		}
	})
	return closed || err != nil
}
