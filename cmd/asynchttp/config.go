// Config flags: one flag per asynchttp.Config field, with the library's
// defaults, shared by every command.

package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/asynchttp/asynchttp"
)

// configFlags holds the flags that map onto asynchttp.Config.
type configFlags struct {
	cfg      asynchttp.Config
	order    idleOrderFlag
	action   acquireActionFlag
	insecure bool
	envProxy bool
}

// idleOrderFlag is Config.IdleOrder as a flag: "lifo" or "fifo".
type idleOrderFlag struct{ o *asynchttp.IdleOrder }

func (f idleOrderFlag) String() string {
	if f.o == nil {
		return "lifo"
	}
	return strings.ToLower(f.o.String())
}

func (f idleOrderFlag) Set(s string) error {
	switch strings.ToLower(s) {
	case "lifo":
		*f.o = asynchttp.LIFO
	case "fifo":
		*f.o = asynchttp.FIFO
	default:
		return fmt.Errorf("want lifo or fifo, not %q", s)
	}
	return nil
}

// acquireActionFlag is Config.AcquireTimeoutAction as a flag: "fail" or
// "new".
type acquireActionFlag struct {
	a *asynchttp.AcquireTimeoutAction
}

func (f acquireActionFlag) String() string {
	if f.a == nil {
		return "fail"
	}
	return f.a.String()
}

func (f acquireActionFlag) Set(s string) error {
	switch strings.ToLower(s) {
	case "fail":
		*f.a = asynchttp.AcquireTimeoutFail
	case "new":
		*f.a = asynchttp.AcquireTimeoutNew
	default:
		return fmt.Errorf("want fail or new, not %q", s)
	}
	return nil
}

// register adds the Config flags to fs, starting from defaults (normally
// the zero Config; the demo passes its own). Defaults that the library
// resolves from zero are shown resolved, so -h says what happens; passing
// them back gives the same Config behaviour.
func (c *configFlags) register(fs *flag.FlagSet, defaults asynchttp.Config) {
	d := defaults
	cfg := &c.cfg
	fs.IntVar(&cfg.MaxTotalConns, "max-total-conns", d.MaxTotalConns,
		"Config.MaxTotalConns: connections open across all hosts (dialing, in use, idle); 0 = no cap")
	fs.IntVar(&cfg.MaxConnsPerHost, "max-conns-per-host", d.MaxConnsPerHost,
		"Config.MaxConnsPerHost: connections open to one host (scheme+host+port), dialing included; 0 = no cap")
	fs.IntVar(&cfg.MaxIdleConnsPerHost, "max-idle-conns-per-host", orInt(d.MaxIdleConnsPerHost, asynchttp.DefaultMaxIdleConnsPerHost),
		"Config.MaxIdleConnsPerHost: idle connections kept per host; negative keeps none")
	fs.IntVar(&cfg.MaxPendingPerHost, "max-pending-per-host", d.MaxPendingPerHost,
		"Config.MaxPendingPerHost: callers that may wait for a connection to one host; 0 = no cap")
	fs.DurationVar(&cfg.AcquireTimeout, "acquire-timeout", d.AcquireTimeout,
		"Config.AcquireTimeout: wait for a free slot when a cap is reached; 0 = until the request's timeout, negative = fail at once")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", orDur(d.IdleTimeout, asynchttp.DefaultIdleTimeout),
		"Config.IdleTimeout: close a connection idle this long; negative = never")
	fs.DurationVar(&cfg.MaxConnLifetime, "max-conn-lifetime", d.MaxConnLifetime,
		"Config.MaxConnLifetime: do not reuse a connection older than this; 0 = forever")
	fs.Float64Var(&cfg.LifetimeJitter, "lifetime-jitter", d.LifetimeJitter,
		"Config.LifetimeJitter: fraction by which each connection's lifetime is shortened at random, so they do not all retire together")
	fs.IntVar(&cfg.MaxRequestsPerConn, "max-requests-per-conn", d.MaxRequestsPerConn,
		"Config.MaxRequestsPerConn: retire a connection after this many requests; 0 = no limit")
	fs.DurationVar(&cfg.AddrTTL, "addr-ttl", orDur(d.AddrTTL, asynchttp.DefaultAddrTTL),
		"Config.AddrTTL: resolve a host name again after this long; negative = for every new connection")
	fs.DurationVar(&cfg.AddrCooldown, "addr-cooldown", orDur(d.AddrCooldown, asynchttp.DefaultAddrCooldown),
		"Config.AddrCooldown: skip an address that failed to connect for this long; negative = never skip")
	c.order = idleOrderFlag{&cfg.IdleOrder}
	cfg.IdleOrder = d.IdleOrder
	fs.Var(c.order, "idle-order", "Config.IdleOrder: which idle connection is reused first: `lifo` (the warmest; the default) or fifo (spread use)")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", orDur(d.DialTimeout, asynchttp.DefaultDialTimeout),
		"Config.DialTimeout: TCP connect; negative = only the request's timeout")
	fs.DurationVar(&cfg.TLSHandshakeTimeout, "tls-handshake-timeout", orDur(d.TLSHandshakeTimeout, asynchttp.DefaultTLSHandshakeTimeout),
		"Config.TLSHandshakeTimeout: TLS handshake for https; negative = only the request's timeout")
	fs.DurationVar(&cfg.ResponseHeaderTimeout, "response-header-timeout", d.ResponseHeaderTimeout,
		"Config.ResponseHeaderTimeout: wait for the response head once the request is written; 0 = none")
	fs.DurationVar(&cfg.ExpectContinueTimeout, "expect-continue-timeout", orDur(d.ExpectContinueTimeout, asynchttp.DefaultExpectContinueTimeout),
		"Config.ExpectContinueTimeout: wait for 100 Continue before sending a body; negative = send at once")
	fs.IntVar(&cfg.MaxResponseHeaderBytes, "max-response-header-bytes", orInt(d.MaxResponseHeaderBytes, asynchttp.DefaultMaxResponseHeaderBytes),
		"Config.MaxResponseHeaderBytes: status line and header section")
	fs.Int64Var(&cfg.MaxResponseBodyBytes, "max-response-body-bytes", orInt64(d.MaxResponseBodyBytes, asynchttp.DefaultMaxResponseBodyBytes),
		"Config.MaxResponseBodyBytes: response body; negative = no bound")
	fs.IntVar(&cfg.MaxConcurrentDials, "max-concurrent-dials", d.MaxConcurrentDials,
		"Config.MaxConcurrentDials: TCP connects and TLS handshakes in flight across the client; 0 = no cap")
	c.action = acquireActionFlag{&cfg.AcquireTimeoutAction}
	cfg.AcquireTimeoutAction = d.AcquireTimeoutAction
	fs.Var(c.action, "acquire-timeout-action", "Config.AcquireTimeoutAction: when -acquire-timeout passes at a host's cap, `fail` (the default) or new (dial past the host's cap, within -max-total-conns)")
	fs.IntVar(&cfg.Retry.MaxAttempts, "retry", d.Retry.MaxAttempts,
		"Config.Retry.MaxAttempts: tries in all for a request answered 429 or 503 that is safe to resend (honouring Retry-After); 0 or 1 = no status retries")
	fs.DurationVar(&cfg.Retry.MaxRetryAfter, "retry-max-wait", orDur(d.Retry.MaxRetryAfter, asynchttp.DefaultMaxRetryAfter),
		"Config.Retry.MaxRetryAfter: the longest Retry-After honoured; a longer one returns the answer at once")
	fs.Float64Var(&cfg.Retry.Budget, "retry-budget", d.Retry.Budget,
		"Config.Retry.Budget: a host's retries at most this fraction of its requests over 10 s; 0 = no budget")
	fs.IntVar(&cfg.Breaker.Failures, "breaker", d.Breaker.Failures,
		"Config.Breaker.Failures: consecutive failures (connection errors, timeouts, 5xx) that open a host's circuit breaker; 0 = no breaker")
	fs.DurationVar(&cfg.Breaker.Cooldown, "breaker-cooldown", orDur(d.Breaker.Cooldown, asynchttp.DefaultBreakerCooldown),
		"Config.Breaker.Cooldown: how long an open breaker fails requests at once before a probe (doubled after each failed probe)")
	fs.BoolVar(&c.envProxy, "env-proxy", false,
		"Config.Proxy: use the proxy given by HTTP_PROXY, HTTPS_PROXY and NO_PROXY (ProxyFromEnvironment)")
	fs.BoolVar(&c.insecure, "insecure", false,
		"Config.TLSConfig: skip verifying the server's certificate (InsecureSkipVerify)")
}

// config returns the Config the flags describe.
func (c *configFlags) config() asynchttp.Config {
	cfg := c.cfg
	if c.insecure {
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if c.envProxy {
		cfg.Proxy = asynchttp.ProxyFromEnvironment
	}
	return cfg
}

// describe is a one-line summary of the caps, for the start of a run.
func (c *configFlags) describe() string {
	capStr := func(n int) string {
		if n <= 0 {
			return "none"
		}
		return strconv.Itoa(n)
	}
	s := fmt.Sprintf("MaxTotalConns=%s MaxConnsPerHost=%s", capStr(c.cfg.MaxTotalConns), capStr(c.cfg.MaxConnsPerHost))
	if c.cfg.IdleTimeout != asynchttp.DefaultIdleTimeout {
		s += fmt.Sprintf(" IdleTimeout=%v", c.cfg.IdleTimeout)
	}
	if c.cfg.MaxConnLifetime != 0 {
		s += fmt.Sprintf(" MaxConnLifetime=%v", c.cfg.MaxConnLifetime)
	}
	if c.cfg.AcquireTimeout != 0 {
		s += fmt.Sprintf(" AcquireTimeout=%v", c.cfg.AcquireTimeout)
	}
	return s
}

func orInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orInt64(v, d int64) int64 {
	if v == 0 {
		return d
	}
	return v
}

func orDur(v, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return v
}

// headerFlag collects repeated -H "Name: value" flags.
type headerFlag [][2]string

func (h *headerFlag) String() string { return "" }

func (h *headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("want \"Name: value\", not %q", s)
	}
	*h = append(*h, [2]string{name, strings.TrimSpace(value)})
	return nil
}

// parseURL checks a URL given on the command line: absolute, http or
// https, with a host. The error is one line a user can act on.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usagef("bad URL %q: %v", raw, unwrapURLError(err))
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return nil, usagef("bad URL %q: no scheme (want http://host/... or https://host/...)", raw)
	default:
		return nil, usagef("bad URL %q: scheme %q not supported (want http or https)", raw, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, usagef("bad URL %q: no host", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, usagef("bad URL %q: bad port %q", raw, p)
		}
	}
	return u, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// hostPort is the "host:port" a URL dials, with the scheme's default port:
// the key of the per-host records (and what Config.Dial is given).
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
