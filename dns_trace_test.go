// httptrace's DNS hooks fire for lookups through the default resolver and
// a custom LookupHost, and the resolver's own UDP dials never show up as
// ConnectStart/ConnectDone. No name lookup leaves the machine: a tiny DNS
// server on 127.0.0.1 answers every A query with 127.0.0.1, and
// net.DefaultResolver is pointed at it for the test.

package asynchttp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS is a DNS server on 127.0.0.1 UDP. It answers A queries for any
// name with 127.0.0.1 and AAAA queries with no answer (NOERROR), or every
// query with NXDOMAIN when nxdomain is set. With a gate, it answers only
// once the gate is closed.
type fakeDNS struct {
	pc       net.PacketConn
	nxdomain atomic.Bool
	gate     chan struct{}
	queries  atomic.Int32
	wg       sync.WaitGroup
}

func newFakeDNS(t *testing.T, gate chan struct{}) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &fakeDNS{pc: pc, gate: gate}
	d.wg.Add(1)
	go d.serve()
	t.Cleanup(func() {
		pc.Close()
		d.wg.Wait()
	})
	return d
}

func (d *fakeDNS) Addr() string { return d.pc.LocalAddr().String() }

func (d *fakeDNS) serve() {
	defer d.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := d.pc.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		if d.gate != nil {
			select {
			case <-d.gate:
			case <-time.After(20 * time.Second):
			}
		}
		if out, ok := d.answer(buf[:n]); ok {
			_, _ = d.pc.WriteTo(out, from)
		}
	}
}

func (d *fakeDNS) answer(q []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, false
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return nil, false
	}
	d.queries.Add(1)
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if d.nxdomain.Load() {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(qs[0]) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if !d.nxdomain.Load() && qs[0].Type == dnsmessage.TypeA {
		rr := dnsmessage.ResourceHeader{Name: qs[0].Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60}
		if b.AResource(rr, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}}) != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

// useFakeDNS points net.DefaultResolver at d until the test ends. The root
// tests run one at a time and newClient's cleanup waits for every client
// goroutine, so nothing else reads the variable meanwhile.
func useFakeDNS(t *testing.T, d *fakeDNS) {
	old := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, d.Addr())
		},
	}
	t.Cleanup(func() { net.DefaultResolver = old })
}

// dnsTraceLog records the hooks of one request.
type dnsTraceLog struct {
	mu       sync.Mutex
	dnsStart []httptrace.DNSStartInfo
	dnsDone  []httptrace.DNSDoneInfo
	connects []string // "start network addr" / "done network addr"
	onDNS    func()
}

func (l *dnsTraceLog) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(i httptrace.DNSStartInfo) {
			l.mu.Lock()
			l.dnsStart = append(l.dnsStart, i)
			f := l.onDNS
			l.mu.Unlock()
			if f != nil {
				f()
			}
		},
		DNSDone: func(i httptrace.DNSDoneInfo) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.dnsDone = append(l.dnsDone, i)
		},
		ConnectStart: func(network, addr string) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.connects = append(l.connects, "start "+network+" "+addr)
		},
		ConnectDone: func(network, addr string, _ error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.connects = append(l.connects, "done "+network+" "+addr)
		},
	}
}

func (l *dnsTraceLog) snapshot() ([]httptrace.DNSStartInfo, []httptrace.DNSDoneInfo, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]httptrace.DNSStartInfo(nil), l.dnsStart...),
		append([]httptrace.DNSDoneInfo(nil), l.dnsDone...),
		append([]string(nil), l.connects...)
}

// assertResolved checks one lookup of host to 127.0.0.1 and one connect to
// the server's address only.
func assertResolved(t *testing.T, l *dnsTraceLog, host, srvAddr string) {
	t.Helper()
	starts, dones, connects := l.snapshot()
	if assert.Len(t, starts, 1, "DNSStart") {
		assert.Equal(t, host, starts[0].Host)
	}
	if assert.Len(t, dones, 1, "DNSDone") {
		assert.NoError(t, dones[0].Err)
		var ips []string
		for _, a := range dones[0].Addrs {
			ips = append(ips, a.IP.String())
		}
		assert.Contains(t, ips, "127.0.0.1")
	}
	assert.Equal(t, []string{"start tcp " + srvAddr, "done tcp " + srvAddr}, connects,
		"only the server's TCP connect is traced, never the resolver's UDP")
}

type dnsTransport struct {
	name string
	rt   http.RoundTripper
}

func dnsTransports(t *testing.T) []dnsTransport {
	c := newClient(t, asynchttp.Config{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return []dnsTransport{{"asynchttp", c}, {"net_http", tr}}
}

// nameURL is srv's URL with host in place of 127.0.0.1.
func nameURL(t *testing.T, srvAddr, host string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(srvAddr)
	require.NoError(t, err)
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/"}).String()
}

func tracedGet(t *testing.T, rt http.RoundTripper, ctx context.Context, u string, l *dnsTraceLog) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, l.trace()), "GET", u, nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestRoundTripTracesDefaultResolverLookup(t *testing.T) {
	dns := newFakeDNS(t, nil)
	useFakeDNS(t, dns)
	for _, tt := range dnsTransports(t) {
		t.Run(tt.name, func(t *testing.T) {
			srv := testserver.NewCounting(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			var l dnsTraceLog
			resp, err := tracedGet(t, tt.rt, testCtx(t), nameURL(t, srv.Addr(), "dnstrace.test"), &l)
			require.NoError(t, err)
			assert.Equal(t, 200, resp.StatusCode)
			assertResolved(t, &l, "dnstrace.test", srv.Addr())
		})
	}
}

// Within AddrTTL a new conn to the same name uses the cached addresses: no
// lookup, so no DNS hooks (as Config.LookupHost documents), while the
// connect is traced.
func TestRoundTripCachedAddrsFireNoDNSHooks(t *testing.T) {
	dns := newFakeDNS(t, nil)
	useFakeDNS(t, dns)
	c := newClient(t, asynchttp.Config{AddrTTL: time.Hour})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	u := nameURL(t, srv.Addr(), "dnstrace.test")
	var first dnsTraceLog
	_, err := tracedGet(t, c, testCtx(t), u, &first)
	require.NoError(t, err)
	assertResolved(t, &first, "dnstrace.test", srv.Addr())
	queries := dns.queries.Load()

	c.CloseIdleConnections() // the next request dials anew
	var second dnsTraceLog
	_, err = tracedGet(t, c, testCtx(t), u, &second)
	require.NoError(t, err)
	starts, dones, connects := second.snapshot()
	assert.Empty(t, starts, "DNSStart on cached addresses")
	assert.Empty(t, dones, "DNSDone on cached addresses")
	assert.Equal(t, []string{"start tcp " + srv.Addr(), "done tcp " + srv.Addr()}, connects)
	assert.Equal(t, queries, dns.queries.Load(), "no query reached the name server")
	assert.Equal(t, 2, srv.Accepted())
}

// Two first requests at once share one lookup: each sees DNSStart and
// DNSDone, one of them Coalesced.
func TestRoundTripConcurrentLookupsEachTraced(t *testing.T) {
	dns := newFakeDNS(t, make(chan struct{}))
	useFakeDNS(t, dns)
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 100})
	var arrived atomic.Int32
	both := make(chan struct{})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == 2 {
			close(both)
		}
		select {
		case <-both:
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	}))
	u := nameURL(t, srv.Addr(), "dnstrace.test")
	var started atomic.Int32
	var gateOnce sync.Once
	logs := make([]*dnsTraceLog, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range logs {
		logs[i] = &dnsTraceLog{onDNS: func() {
			// The name server answers once both requests wait for
			// the lookup.
			if started.Add(1) == 2 {
				gateOnce.Do(func() { close(dns.gate) })
			}
		}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = tracedGet(t, c, testCtx(t), u, logs[i])
		}()
	}
	wg.Wait()
	gateOnce.Do(func() { close(dns.gate) })
	coalesced := 0
	for i, l := range logs {
		require.NoError(t, errs[i])
		assertResolved(t, l, "dnstrace.test", srv.Addr())
		if _, dones, _ := l.snapshot(); len(dones) == 1 && dones[0].Coalesced {
			coalesced++
		}
	}
	assert.Equal(t, 1, coalesced, "one of the two waited on the other's lookup")
	assert.Equal(t, 2, srv.Accepted())
}

type callerKey struct{}

// A custom LookupHost is traced too, and runs under a context of its own
// that carries none of the caller's values.
func TestRoundTripTracesCustomLookupHost(t *testing.T) {
	var sawValue atomic.Bool
	var calls atomic.Int32
	c := newClient(t, asynchttp.Config{LookupHost: func(ctx context.Context, host string) ([]string, error) {
		calls.Add(1)
		if ctx.Value(callerKey{}) != nil {
			sawValue.Store(true)
		}
		if host != "custom.test" {
			return nil, errors.New("unexpected host " + host)
		}
		return []string{"127.0.0.1"}, nil
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ctx := context.WithValue(testCtx(t), callerKey{}, "caller")
	var l dnsTraceLog
	resp, err := tracedGet(t, c, ctx, nameURL(t, srv.Addr(), "custom.test"), &l)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, int32(1), calls.Load())
	assert.False(t, sawValue.Load(), "LookupHost's ctx carries the caller's values")
	assertResolved(t, &l, "custom.test", srv.Addr())
}

// NXDOMAIN: DNSDone reports the error and the request fails with a
// *net.DNSError.
func TestRoundTripTracesFailedLookup(t *testing.T) {
	dns := newFakeDNS(t, nil)
	dns.nxdomain.Store(true)
	useFakeDNS(t, dns)
	for _, tt := range dnsTransports(t) {
		t.Run(tt.name, func(t *testing.T) {
			srv := testserver.NewCounting(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			var l dnsTraceLog
			_, err := tracedGet(t, tt.rt, testCtx(t), nameURL(t, srv.Addr(), "missing.test"), &l)
			require.Error(t, err)
			var de *net.DNSError
			require.ErrorAs(t, err, &de)
			assert.True(t, strings.Contains(de.Name, "missing.test"), "DNSError.Name %q", de.Name)
			starts, dones, connects := l.snapshot()
			if assert.Len(t, starts, 1) {
				assert.Equal(t, "missing.test", starts[0].Host)
			}
			if assert.Len(t, dones, 1) {
				assert.Error(t, dones[0].Err)
				assert.Empty(t, dones[0].Addrs)
			}
			assert.Empty(t, connects, "no connect after a failed lookup")
			assert.Equal(t, 0, srv.Accepted())
		})
	}
}
