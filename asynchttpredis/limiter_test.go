package asynchttpredis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynchttp/asynchttp/asynchttpredis/redistest"
)

const workerEnv = "ASYNCHTTPREDIS_WORKER"

// TestMain turns the test binary into a fleet worker when re-executed
// with workerEnv set.
func TestMain(m *testing.M) {
	if mode := os.Getenv(workerEnv); mode != "" {
		os.Exit(runWorker(mode))
	}
	os.Exit(m.Run())
}

// runWorker: "send" sends N requests to TARGET through its own Limiter
// with 8 goroutines; "hold" acquires CAP slots, prints "held" and blocks
// until killed.
func runWorker(mode string) int {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	capN, _ := strconv.Atoi(os.Getenv("CAP"))
	ttl, _ := time.ParseDuration(os.Getenv("TTL"))
	l := NewLimiter(rdb, Options{MaxInFlight: capN, LeaseTTL: ttl, Timeout: 5 * time.Second, KeyPrefix: os.Getenv("PREFIX")})
	defer l.Close()
	target := os.Getenv("TARGET")
	host := os.Getenv("HOST")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch mode {
	case "hold":
		for range capN {
			if _, err := l.Acquire(ctx, host); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		fmt.Println("held")
		<-ctx.Done()
		return 0
	case "send":
		n, _ := strconv.Atoi(os.Getenv("N"))
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Bool
		for range 8 {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					rel, err := l.Acquire(ctx, host)
					if err != nil {
						failed.Store(true)
						return
					}
					resp, err := http.Get(target)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					} else {
						failed.Store(true)
					}
					rel()
				}
			})
		}
		wg.Wait()
		if failed.Load() {
			return 1
		}
		return 0
	}
	return 2
}

// countingServer records requests in flight and their maximum, and the
// arrival time of every request.
type countingServer struct {
	*httptest.Server
	mu       sync.Mutex
	in, max  int
	arrivals []time.Time
}

func newCountingServer(t *testing.T, hold time.Duration) *countingServer {
	cs := &countingServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.mu.Lock()
		cs.in++
		cs.max = max(cs.max, cs.in)
		cs.arrivals = append(cs.arrivals, time.Now())
		cs.mu.Unlock()
		time.Sleep(hold) // the response's latency, so requests overlap
		cs.mu.Lock()
		cs.in--
		cs.mu.Unlock()
	}))
	t.Cleanup(cs.Close)
	return cs
}

func workerCmd(t *testing.T, mode string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{workerEnv + "=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func newClient(t *testing.T, srv *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestFleetCapOfFourHoldsAcrossThreeWorkerProcesses(t *testing.T) {
	srv := redistest.Start(t)
	cs := newCountingServer(t, 30*time.Millisecond)
	var cmds []*exec.Cmd
	for range 3 {
		cmd := workerCmd(t, "send", "REDIS_ADDR="+srv.Addr, "CAP=4", "TTL=5s", "N=40",
			"TARGET="+cs.URL, "HOST="+cs.URL, "PREFIX=cap:")
		require.NoError(t, cmd.Start())
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		require.NoError(t, cmd.Wait())
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	t.Logf("requests %d, max in flight seen by the server %d", len(cs.arrivals), cs.max)
	assert.Len(t, cs.arrivals, 120)
	assert.LessOrEqual(t, cs.max, 4, "the fleet cap is a hard invariant")
	assert.Equal(t, 4, cs.max, "24 senders against a cap of 4 must fill it")
}

func TestSlotsOfASIGKILLedWorkerComeBackWithinLeaseTTL(t *testing.T) {
	srv := redistest.Start(t)
	const host = "http://127.0.0.1:1"
	ttl := 1500 * time.Millisecond
	cmd := workerCmd(t, "hold", "REDIS_ADDR="+srv.Addr, "CAP=4", "TTL="+ttl.String(), "HOST="+host, "PREFIX=kill:")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "held\n", line)

	l := NewLimiter(newClient(t, srv), Options{MaxInFlight: 4, LeaseTTL: ttl, KeyPrefix: "kill:"})
	defer l.Close()
	// While the worker lives its leases are renewed: past one TTL the cap is still full.
	ctx, cancel := context.WithTimeout(context.Background(), 2*ttl)
	_, err = l.Acquire(ctx, host)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "a live worker's renewed leases must keep the cap full")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), ttl+3*time.Second)
	defer cancel()
	for range 4 {
		_, err := l.Acquire(ctx, host)
		require.NoError(t, err)
	}
	back := time.Since(killed)
	t.Logf("all 4 slots back %v after SIGKILL (LeaseTTL %v)", back, ttl)
	assert.Less(t, back, ttl+time.Second)
}

func TestRateTwentyPerSecondAcrossTwoLimitersWithinTenPercent(t *testing.T) {
	srv := redistest.Start(t)
	cs := newCountingServer(t, 0)
	opts := Options{Rate: 20, KeyPrefix: "rate:"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		l := NewLimiter(newClient(t, srv), opts)
		defer l.Close()
		for range 3 {
			wg.Go(func() {
				for ctx.Err() == nil {
					rel, err := l.Acquire(ctx, cs.URL)
					if err != nil {
						return
					}
					if resp, err := http.Get(cs.URL); err == nil {
						resp.Body.Close()
					}
					rel()
				}
			})
		}
	}
	wg.Wait()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	require.NotEmpty(t, cs.arrivals)
	span := cs.arrivals[len(cs.arrivals)-1].Sub(cs.arrivals[0])
	rate := float64(len(cs.arrivals)-1) / span.Seconds()
	t.Logf("%d requests over %v: %.2f/s", len(cs.arrivals), span, rate)
	assert.InDelta(t, 20, rate, 2)
	assert.GreaterOrEqual(t, span, 2500*time.Millisecond)
}

func TestRedisDownFailOpenAdmitsFailClosedErrsThenRecovers(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	const host = "http://127.0.0.1:2"
	timeout := 300 * time.Millisecond
	open := NewLimiter(rdb, Options{MaxInFlight: 1, Timeout: timeout, FailOpen: true, KeyPrefix: "down:"})
	defer open.Close()
	closed := NewLimiter(rdb, Options{MaxInFlight: 1, Timeout: timeout, KeyPrefix: "down2:"})
	defer closed.Close()

	srv.Stop()
	start := time.Now()
	rel, err := open.Acquire(context.Background(), host)
	require.NoError(t, err, "FailOpen admits when Redis is down")
	rel()
	_, err = closed.Acquire(context.Background(), host)
	elapsed := time.Since(start)
	require.ErrorIs(t, err, ErrUnavailable)
	var ue *UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, host, ue.Host)
	t.Logf("both answers with Redis down in %v (Timeout %v)", elapsed, timeout)
	assert.Less(t, elapsed, 2*timeout+time.Second)

	srv.Restart()
	// The pool reconnects on the next command; a first attempt may still see a dead conn.
	var got error
	for range 20 {
		var rel func()
		rel, got = closed.Acquire(context.Background(), host)
		if got == nil {
			rel()
			break
		}
	}
	require.NoError(t, got, "admissions work again once Redis is back")
	// And the cap is enforced again (not failing open).
	rel1, err := open.Acquire(context.Background(), host)
	require.NoError(t, err)
	defer rel1()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = open.Acquire(ctx, host)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestPerHostOverridesTheDefaults(t *testing.T) {
	srv := redistest.Start(t)
	const a, b = "http://127.0.0.1:3", "http://127.0.0.1:4"
	l := NewLimiter(newClient(t, srv), Options{MaxInFlight: 1, KeyPrefix: "ph:",
		PerHost: func(host string) (int, float64) {
			if host == b {
				return 3, 0
			}
			return 1, 0
		}})
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 {
		_, err := l.Acquire(ctx, b)
		require.NoError(t, err)
	}
	_, err := l.Acquire(ctx, a)
	require.NoError(t, err)
	short, c2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer c2()
	_, err = l.Acquire(short, a)
	require.ErrorIs(t, err, context.DeadlineExceeded, "host a is capped at 1")
}

func TestReleaseRemovesItsLeaseExactlyOnce(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	const host = "http://127.0.0.1:5"
	l := NewLimiter(rdb, Options{MaxInFlight: 2, KeyPrefix: "rel:"})
	defer l.Close()
	ctx := context.Background()
	r1, err := l.Acquire(ctx, host)
	require.NoError(t, err)
	r2, err := l.Acquire(ctx, host)
	require.NoError(t, err)
	key, _ := l.keys(host)
	r1()
	r1() // a second call must not free another request's slot
	n, err := rdb.ZCard(ctx, key).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	r2()
	n, err = rdb.ZCard(ctx, key).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 0, n)
}

func TestCancelWhileWaitingReturnsAndTakesNoSlot(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	const host = "http://127.0.0.1:6"
	l := NewLimiter(rdb, Options{MaxInFlight: 1, KeyPrefix: "cancel:"})
	defer l.Close()
	rel, err := l.Acquire(context.Background(), host)
	require.NoError(t, err)
	defer rel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := l.Acquire(ctx, host); done <- err }()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire did not return after cancel")
	}
	key, _ := l.keys(host)
	n, err := rdb.ZCard(context.Background(), key).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

// countHook counts commands sent to Redis (a pipeline counts each command).
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

func TestOneRoundTripPerAdmissionInTheCommonCase(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	h := &countHook{}
	rdb.AddHook(h)
	const host = "http://127.0.0.1:7"
	l := NewLimiter(rdb, Options{MaxInFlight: 4, Rate: 1e6, KeyPrefix: "rt:"})
	defer l.Close()
	ctx := context.Background()
	rel, err := l.Acquire(ctx, host) // first use loads the script (EVALSHA, NOSCRIPT, EVAL)
	require.NoError(t, err)
	rel()
	const n = 200
	h.n.Store(0)
	for range n {
		rel, err := l.Acquire(ctx, host)
		require.NoError(t, err)
		rel()
	}
	perAdmission := float64(h.n.Load()) / n
	t.Logf("round trips per admission+release: %.2f", perAdmission)
	assert.InDelta(t, 2, perAdmission, 0.1, "one EVALSHA to admit, one ZREM to release")
}
