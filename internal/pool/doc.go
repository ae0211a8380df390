// Package pool is the key-agnostic connection pool under asynchttp's
// Client. It knows keys (strings) and conns (the Conn interface, whose
// implementations embed an Entry), never HTTP: no request, header or
// status reaches it.
//
// What it does, and where:
//
//   - pool.go: Acquire (an idle conn, a new one dialed in reserved slots,
//     or one handed over by Release), ReserveWarm, Release, the caps
//     (MaxTotal, MaxPerKey, MaxIdle on Release), eviction of another key's
//     least recently used idle conn under MaxTotal.
//   - wait.go: the waiting policy. Callers that find no slot queue FIFO
//     per key and pool-wide; a freed slot goes to the oldest waiter of
//     any key that may dial (a heap of keys by their oldest waiter).
//   - idle.go: idle deques (LIFO or FIFO reuse), expiry by IdleTimeout,
//     the peer's Keep-Alive timeout and Lifetime (with jitter), ReapOnce.
//   - retire.go: CloseConn, Detach (a conn leaves with its socket open),
//     Drain with generations (conns dialing during a Drain are drained
//     too), CloseIdle, Shutdown.
//   - dial.go: the dial in reserved slots, through Config.Dial and
//     Config.Setup, with the slots given back on failure or panic.
//   - inflight.go: the registry of dials, lookups and setups in flight,
//     handed down to the dialer, which Shutdown stops.
//   - keys.go: keys with no conn and no waiter linger (with their
//     counters) for Config.Linger, at most Config.MaxLingering of them.
//   - stats.go, events.go, reason.go: counters, close reasons, the
//     owner's callbacks (panics recovered and counted), invariants.
//
// One mutex guards the pool; it is never held across I/O or the owner's
// code, except the NewKey and ForgetKey hooks. The owner runs ReapOnce
// every ReapPeriod: the pool starts no goroutine.
package pool
