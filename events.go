// Pool events: callbacks for connections created, acquired, released and
// closed.

package asynchttp

import (
	"net"
	"time"
)

// ConnInfo describes a connection in an event.
type ConnInfo struct {
	Host       string // the host key, "scheme://host:port"
	LocalAddr  net.Addr
	RemoteAddr net.Addr
	CreatedAt  time.Time
	Requests   int // requests completed on it so far
}

// Events holds optional callbacks for what happens to the pool's
// connections. Nil callbacks are skipped. Callbacks run outside the pool's
// lock, after its accounting, in the goroutine that caused the event: a
// slow callback delays that goroutine only. They may be called
// concurrently. A panic in a callback is recovered and counted in
// Stats.EventPanics; the exchange goes on.
type Events struct {
	// ConnCreated: a connection was dialed (and its TLS handshake done).
	ConnCreated func(ConnInfo)
	// ConnAcquired: a caller got a connection; reused says whether it had
	// served requests before.
	ConnAcquired func(info ConnInfo, reused bool)
	// ConnReleased: a caller gave back a connection whose response was
	// complete. ConnClosed follows at once if the pool does not keep it.
	ConnReleased func(ConnInfo)
	// ConnClosed: a connection was closed, and why.
	ConnClosed func(ConnInfo, CloseReason)
}
