// The crawl frontier: a FIFO queue of URLs to fetch (breadth-first), with
// deduplication, a page budget and a cap on the URLs of one host in
// flight (the client's host policy does the politeness itself).

package main

import (
	"context"
	"net/url"
	"sync"
)

// crawlItem is a URL to fetch and its depth (seeds are 0).
type crawlItem struct {
	u     *url.URL
	key   string // hostPort(u)
	depth int
	token string // a fleet frontier's entry for it (fleet.go); "" locally
}

// frontier hands out URLs in the order they were found, at most maxPages
// of them in all, each once, and at most hostSlots of one host in flight
// (0: no cap), so that a host the client holds back (its rate, delay or
// connection cap) does not take every request slot of the crawl. It
// reports the end when its queue is empty and nothing is in flight that
// could add to it.
type frontier struct {
	maxPages  int
	hostSlots int

	mu       sync.Mutex
	queue    []crawlItem
	seen     map[string]bool
	found    int // distinct URLs seen (allowed ones), queued or not
	queued   int // URLs ever queued: at most maxPages
	inflight int
	perHost  map[string]int // URLs in flight per host key
	changed  chan struct{}  // closed and replaced when queue or inflight changes
}

func newFrontier(maxPages, hostSlots int) *frontier {
	return &frontier{
		maxPages:  maxPages,
		hostSlots: hostSlots,
		seen:      make(map[string]bool),
		perHost:   make(map[string]int),
		changed:   make(chan struct{}),
	}
}

func (f *frontier) signalLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// add queues the items not seen before, within the page budget.
func (f *frontier) add(items ...crawlItem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, it := range items {
		s := it.u.String()
		if f.seen[s] {
			continue
		}
		f.seen[s] = true
		f.found++
		if f.queued < f.maxPages {
			f.queued++
			f.queue = append(f.queue, it)
			n++
		}
	}
	if n > 0 {
		f.signalLocked()
	}
}

// next returns the next URL to fetch, counting it in flight until done is
// called for it. It blocks while every queued URL's host has hostSlots
// URLs in flight, or while the queue is empty and pages in flight may
// still add to it. ok is false at the end of the crawl or when ctx ends.
func (f *frontier) next(ctx context.Context) (it crawlItem, ok bool) {
	for {
		if ctx.Err() != nil {
			return crawlItem{}, false
		}
		f.mu.Lock()
		if len(f.queue) == 0 && f.inflight == 0 {
			f.mu.Unlock()
			return crawlItem{}, false
		}
		for i, q := range f.queue {
			if f.hostSlots <= 0 || f.perHost[q.key] < f.hostSlots {
				f.queue = append(f.queue[:i], f.queue[i+1:]...)
				f.inflight++
				f.perHost[q.key]++
				f.mu.Unlock()
				return q, true
			}
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-ch:
		}
	}
}

// done ends an item that next handed out.
func (f *frontier) done(it crawlItem) {
	key := it.key
	f.mu.Lock()
	f.inflight--
	if f.perHost[key]--; f.perHost[key] <= 0 {
		delete(f.perHost, key)
	}
	f.signalLocked()
	f.mu.Unlock()
}

// counts returns the URLs found and queued so far.
func (f *frontier) counts() (found, queued int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.found, f.queued
}
