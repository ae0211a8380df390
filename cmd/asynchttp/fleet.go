// crawl -redis: several crawl processes share one crawl through Redis —
// the frontier (a list), the seen-set (a set), the page budget, the
// per-host caps (asynchttpredis's HostLimiter) and the per-host figures,
// merged into one table by the last worker to finish.

package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/asynchttp/asynchttp/asynchttpredis"
	"github.com/redis/go-redis/v9"
)

// fleet is this process's link to the fleet's shared state, all under
// "asynchttp:crawl:<id>:".
type fleet struct {
	rdb    *redis.Client
	id     string
	prefix string
	lease  time.Duration // how long a taken URL stays this worker's (-fleet-lease)

	mu  sync.Mutex
	err error // the first Redis error: the crawl stops on it
}

// fleetTTL bounds how long a crawl's keys outlive its last write.
const fleetTTL = 24 * time.Hour

// openFleet connects to the Redis at rawURL ("redis://host:port/db") for
// the crawl id, and checks that it answers.
func openFleet(ctx context.Context, rawURL, id string) (*fleet, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, usagef("-redis: %v", err)
	}
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", opt.Addr, err)
	}
	return &fleet{rdb: rdb, id: id, prefix: "asynchttp:crawl:" + id + ":"}, nil
}

// crawlID is the default -crawl-id: a hash of the seeds, so that workers
// started with the same seeds join the same crawl.
func crawlID(seeds []*url.URL) string {
	s := make([]string, len(seeds))
	for i, u := range seeds {
		s[i] = u.String()
	}
	slices.Sort(s)
	h := fnv.New64a()
	io.WriteString(h, strings.Join(s, "\n"))
	return "seeds-" + strconv.FormatUint(h.Sum64(), 36)
}

func (f *fleet) key(name string) string { return f.prefix + name }

func (f *fleet) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

// Err returns the first Redis error met, or nil.
func (f *fleet) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *fleet) Close() error { return f.rdb.Close() }

// limiter returns the fleet-wide per-host limiter for Config.HostLimiter.
func (f *fleet) limiter(perHost int, rate float64, failOpen bool) *asynchttpredis.Limiter {
	return asynchttpredis.NewLimiter(f.rdb, asynchttpredis.Options{
		MaxInFlight: perHost, Rate: rate, FailOpen: failOpen, KeyPrefix: f.prefix + "limit:",
	})
}

// The frontier's scripts: each one step, atomic in Redis.
var (
	// KEYS: seen, queue, queued, found. ARGV: maxPages, then URL and
	// payload pairs. Queues the URLs never seen, within the budget.
	addScript = redis.NewScript(`
local pushed = 0
for i = 2, #ARGV, 2 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('INCR', KEYS[4])
    if tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[1]) then
      redis.call('INCR', KEYS[3])
      redis.call('LPUSH', KEYS[2], ARGV[i+1])
      pushed = pushed + 1
    end
  end
end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], 86400) end
return pushed`)
	// KEYS: queue, taken. ARGV: lease in ms. The oldest URL, taken under
	// a lease in the same step (no moment when it is in neither place):
	// a worker that dies gives it back when the lease ends.
	popScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('RPOP', KEYS[1])
if v then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), v)
  redis.call('EXPIRE', KEYS[2], 86400)
end
return v`)
	// KEYS: queue, taken. Gives the URLs of expired leases back to the
	// queue (first in line), then answers 1 when nothing is queued or
	// taken.
	idleScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('RPUSH', KEYS[1], m)
end
if redis.call('LLEN', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) == 0 then return 1 end
return 0`)
)

// fleetFrontier is the crawl frontier kept in Redis: a FIFO list of URLs
// to fetch, the set of URLs ever seen (a URL is queued once by the whole
// fleet), the budget of URLs queued, and the URLs taken, each under a
// lease (a sorted set by deadline): the URLs of a worker that dies go
// back to the queue when their leases end, so the others fetch them and
// finish. The crawl is over when nothing is queued or taken, seen
// idlePolls times in a row.
type fleetFrontier struct {
	f        *fleet
	maxPages int
	lease    time.Duration
	poll     time.Duration
}

const idlePolls = 3

func (f *fleet) frontier(maxPages int) *fleetFrontier {
	return &fleetFrontier{f: f, maxPages: maxPages, lease: f.lease, poll: 50 * time.Millisecond}
}

func (fr *fleetFrontier) add(items ...crawlItem) {
	if len(items) == 0 {
		return
	}
	f := fr.f
	args := []any{fr.maxPages}
	for _, it := range items {
		u := it.u.String()
		args = append(args, u, strconv.Itoa(it.depth)+" "+u)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys := []string{f.key("seen"), f.key("queue"), f.key("queued"), f.key("found")}
	if err := addScript.Run(ctx, f.rdb, keys, args...).Err(); err != nil {
		f.fail(fmt.Errorf("redis: queueing URLs: %w", err))
	}
}

func (fr *fleetFrontier) next(ctx context.Context) (crawlItem, bool) {
	f := fr.f
	keys := []string{f.key("queue"), f.key("taken")}
	idle := 0
	for ctx.Err() == nil && f.Err() == nil {
		v, err := popScript.Run(ctx, f.rdb, keys, fr.lease.Milliseconds()).Text()
		switch {
		case err == nil:
			it, perr := parseFleetItem(v)
			if perr != nil {
				fr.done(crawlItem{token: v}) // not ours to fetch: a foreign entry
				continue
			}
			return it, true
		case !errors.Is(err, redis.Nil):
			f.fail(fmt.Errorf("redis: taking a URL: %w", err))
			return crawlItem{}, false
		}
		n, err := idleScript.Run(ctx, f.rdb, keys).Int()
		if err != nil {
			f.fail(fmt.Errorf("redis: %w", err))
			return crawlItem{}, false
		}
		if n == 1 {
			if idle++; idle >= idlePolls {
				return crawlItem{}, false
			}
		} else {
			idle = 0
		}
		t := time.NewTimer(fr.poll)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return crawlItem{}, false
}

func parseFleetItem(v string) (crawlItem, error) {
	d, raw, ok := strings.Cut(v, " ")
	depth, err := strconv.Atoi(d)
	if !ok || err != nil {
		return crawlItem{}, fmt.Errorf("bad frontier entry %q", v)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return crawlItem{}, err
	}
	return crawlItem{u: u, key: hostPort(u), depth: depth, token: v}, nil
}

func (fr *fleetFrontier) done(it crawlItem) {
	f := fr.f
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.rdb.ZRem(ctx, f.key("taken"), it.token).Err(); err != nil {
		f.fail(fmt.Errorf("redis: %w", err))
	}
}

func (fr *fleetFrontier) counts() (found, queued int) {
	f := fr.f
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	vals, err := f.rdb.MGet(ctx, f.key("found"), f.key("queued")).Result()
	if err != nil {
		return 0, 0
	}
	atoi := func(v any) int {
		s, _ := v.(string)
		n, _ := strconv.Atoi(s)
		return n
	}
	return atoi(vals[0]), atoi(vals[1])
}

// The per-host figures each worker adds to the fleet's, and the merged
// table.
var fleetFields = []string{"reqs", "ok", "conns", "errors", "retries", "ejected"}

// join counts this worker in the fleet.
func (f *fleet) join(ctx context.Context) error {
	pipe := f.rdb.TxPipeline()
	pipe.Incr(ctx, f.key("workers"))
	pipe.Incr(ctx, f.key("joined"))
	pipe.Expire(ctx, f.key("workers"), fleetTTL)
	pipe.Expire(ctx, f.key("joined"), fleetTTL)
	_, err := pipe.Exec(ctx)
	return err
}

// leave adds this worker's per-host figures to the fleet's and reports
// whether it was the last worker in the crawl.
func (f *fleet) leave(ctx context.Context, hosts []hostSummary, pf map[string]policyFigures) (last bool, err error) {
	pipe := f.rdb.TxPipeline()
	for _, h := range hosts {
		k := f.key("host:" + h.key)
		errs := 0
		for _, n := range h.errs {
			errs += n
		}
		p := pf[h.key]
		for i, v := range []int64{int64(h.requests), int64(h.ok), int64(h.dials), int64(errs), int64(p.retries), int64(p.ejected)} {
			pipe.HIncrBy(ctx, k, fleetFields[i], v)
		}
		pipe.HIncrBy(ctx, k, "workers", 1)
		pipe.Expire(ctx, k, fleetTTL)
		pipe.SAdd(ctx, f.key("hosts"), h.key)
	}
	pipe.Expire(ctx, f.key("hosts"), fleetTTL)
	left := pipe.Decr(ctx, f.key("workers"))
	if _, err := pipe.Exec(ctx); err != nil {
		return false, err
	}
	return left.Val() <= 0, nil
}

// printMerged writes the per-host table merged from every worker.
func (f *fleet) printMerged(ctx context.Context, w io.Writer) error {
	hosts, err := f.rdb.SMembers(ctx, f.key("hosts")).Result()
	if err != nil {
		return err
	}
	sort.Strings(hosts)
	joined, _ := f.rdb.Get(ctx, f.key("joined")).Int()
	found, queued := f.frontier(0).counts()
	fmt.Fprintf(w, "fleet %s: %d workers, %d URLs found, %d queued; per host, all workers:\n", f.id, joined, found, queued)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "host\t"+strings.Join(fleetFields, "\t")+"\tworkers")
	total := make([]int64, len(fleetFields))
	for _, h := range hosts {
		vals, err := f.rdb.HMGet(ctx, f.key("host:"+h), append(slices.Clone(fleetFields), "workers")...).Result()
		if err != nil {
			return err
		}
		row := h
		for i, v := range vals {
			s, _ := v.(string)
			n, _ := strconv.ParseInt(s, 10, 64)
			if i < len(total) {
				total[i] += n
			}
			row += "\t" + strconv.FormatInt(n, 10)
		}
		fmt.Fprintln(tw, row)
	}
	row := "total"
	for _, n := range total {
		row += "\t" + strconv.FormatInt(n, 10)
	}
	fmt.Fprintln(tw, row+"\t"+strconv.Itoa(joined))
	return tw.Flush()
}
