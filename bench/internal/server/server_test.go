package server

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestCountsAreExact: 8 clients over 2 ports, each with at most one
// connection open at a time (it closes one before dialing the next). The
// server must count at most 8 open in total and 4 per port, though it reads
// each FIN only when that connection's goroutine next runs, and the count
// must return to 0.
func TestCountsAreExact(t *testing.T) {
	s, err := Start(2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inf := s.Info()
	const clients, rounds = 8, 200
	var wg sync.WaitGroup
	for g := range clients {
		wg.Go(func() {
			buf := make([]byte, 512)
			for range rounds {
				c, err := net.Dial("tcp", inf.Addr(g%2))
				if err != nil {
					t.Error(err)
					return
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(c, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Error(err)
				}
				if _, err := c.Read(buf); err != nil {
					t.Error(err)
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for s.Snapshot().Open != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the server reads the last FINs
	}
	st := s.Snapshot()
	if st.Open != 0 || st.MaxOpen > clients || st.MaxPort > clients/2 || st.Accepted != clients*rounds {
		t.Fatalf("counts: %s", st)
	}
}
