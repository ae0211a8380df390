// A net.Pipe server for the host-policy tests under testing/synctest: it
// records when each request arrives per host, how many are in flight,
// and answers after a latency that may depend on that load.

package asynchttp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

type timedServer struct {
	// latency, when set, is how long a request to host waits before its
	// answer, given the requests to host in flight (itself included).
	latency func(host string, inFlight int) time.Duration
	// status, when set, is the status of the answer to the n-th request
	// (from 1) to host; nil: 200. header, when set, gives extra header
	// lines ("Name: value\r\n") for it.
	status func(host string, n int) int
	header func(host string, n int) string

	mu       sync.Mutex
	arrivals map[string][]time.Time
	inFlight map[string]int
	peak     map[string]int
}

func (s *timedServer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	p := pipeServer{serve: s.serve}
	return p.dial(ctx, network, addr)
}

func (s *timedServer) serve(nc net.Conn) {
	br := bufio.NewReader(nc)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		s.mu.Lock()
		if s.arrivals == nil {
			s.arrivals, s.inFlight, s.peak = map[string][]time.Time{}, map[string]int{}, map[string]int{}
		}
		s.arrivals[req.Host] = append(s.arrivals[req.Host], time.Now())
		n := len(s.arrivals[req.Host])
		s.inFlight[req.Host]++
		in := s.inFlight[req.Host]
		s.peak[req.Host] = max(s.peak[req.Host], in)
		s.mu.Unlock()
		if s.latency != nil {
			time.Sleep(s.latency(req.Host, in))
		}
		status := 200
		if s.status != nil {
			status = s.status(req.Host, n)
		}
		extra := ""
		if s.header != nil {
			extra = s.header(req.Host, n)
		}
		s.mu.Lock()
		s.inFlight[req.Host]--
		s.mu.Unlock()
		if _, err := fmt.Fprintf(nc, "HTTP/1.1 %d X\r\n%sContent-Length: 2\r\n\r\nok", status, extra); err != nil {
			return
		}
	}
}

// count returns the requests host saw.
func (s *timedServer) count(host string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals[host])
}

// times returns the arrival times of the requests to host.
func (s *timedServer) times(host string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals[host]...)
}

func (s *timedServer) peakOf(host string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak[host]
}

func (s *timedServer) resetPeak(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peak != nil {
		s.peak[host] = s.inFlight[host]
	}
}
