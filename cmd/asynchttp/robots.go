// robots.txt for the crawler: fetched once per host through the crawl's
// client, parsed by github.com/temoto/robotstxt, obeyed for every URL,
// its Crawl-delay turned into the host's policy.

package main

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/temoto/robotstxt"
)

// maxRobotsBytes bounds a robots.txt (Google reads the first 500 KiB).
const maxRobotsBytes = 500 << 10

// robots fetches and keeps the robots.txt of each host a crawl visits.
// Its rules for agent apply to every URL of the host; the answer of a
// host is fetched once, by the first URL that asks, the others waiting
// for it.
type robots struct {
	c     *asynchttp.Client
	agent string
	// onDelay, when set, is told of a host's Crawl-delay once its
	// robots.txt is read (host is "scheme://host:port").
	onDelay func(host string, d time.Duration)

	mu    sync.Mutex
	hosts map[string]*robotsEntry
}

type robotsEntry struct {
	ready chan struct{} // closed once data is set
	data  *robotstxt.RobotsData
	err   error // why it could not be read: the host is then allowed
}

func newRobots(c *asynchttp.Client, agent string, onDelay func(string, time.Duration)) *robots {
	return &robots{c: c, agent: agent, onDelay: onDelay, hosts: make(map[string]*robotsEntry)}
}

// allowed reports whether the host's robots.txt lets the crawl fetch u.
// A robots.txt that answers 4xx allows everything; 5xx disallows
// everything (the host says it is in trouble); one that cannot be fetched
// at all (the host is down) allows everything, so that the page's own
// failure is what the crawl reports. It waits for the host's robots.txt
// within ctx.
func (r *robots) allowed(ctx context.Context, u *url.URL) (bool, error) {
	origin := originOf(u)
	r.mu.Lock()
	e := r.hosts[origin]
	first := e == nil
	if first {
		e = &robotsEntry{ready: make(chan struct{})}
		r.hosts[origin] = e
	}
	r.mu.Unlock()
	if first {
		e.data, e.err = r.fetch(ctx, origin)
		close(e.ready)
		if e.data != nil && r.onDelay != nil {
			if d := e.data.FindGroup(r.agent).CrawlDelay; d > 0 {
				r.onDelay(origin, d)
			}
		}
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return e.allows(u, r.agent), nil
}

// known reports, without waiting, whether the host's robots.txt lets the
// crawl fetch u, when it has been read already (ok false: not yet).
func (r *robots) known(u *url.URL) (allowed, ok bool) {
	r.mu.Lock()
	e := r.hosts[originOf(u)]
	r.mu.Unlock()
	if e == nil {
		return false, false
	}
	select {
	case <-e.ready:
		return e.allows(u, r.agent), true
	default:
		return false, false
	}
}

// originOf is the "scheme://host:port" whose robots.txt governs u.
func originOf(u *url.URL) string { return u.Scheme + "://" + hostPort(u) }

// allows applies a read robots.txt (allowing everything when there was
// none to read) to u.
func (e *robotsEntry) allows(u *url.URL, agent string) bool {
	if e.data == nil {
		return true
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return e.data.TestAgent(path, agent)
}

// fetch reads origin's robots.txt.
func (r *robots) fetch(ctx context.Context, origin string) (*robotstxt.RobotsData, error) {
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetRequestURI(origin + "/robots.txt")
	req.Header.Set("User-Agent", r.agent)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.c.Do(ctx, req, resp); err != nil {
		var le *asynchttp.LimitError
		if !errors.As(err, &le) {
			return nil, err
		}
		// Too large: read what the first part says, as search engines do.
	}
	body := resp.Body()
	if len(body) > maxRobotsBytes {
		body = body[:maxRobotsBytes]
	}
	return robotstxt.FromStatusAndBytes(resp.StatusCode, body)
}

// counts returns how many hosts' robots.txt were read and how many could
// not be.
func (r *robots) counts() (read, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.hosts {
		select {
		case <-e.ready:
			if e.err != nil {
				failed++
			} else {
				read++
			}
		default:
		}
	}
	return read, failed
}
