// The crawl frontier: a FIFO queue of URLs to fetch (breadth-first), with
// deduplication, a page budget and per-host politeness.

package main

import (
	"context"
	"net/url"
	"sync"
	"time"
)

// crawlItem is a URL to fetch and its depth (seeds are 0).
type crawlItem struct {
	u     *url.URL
	key   string // hostPort(u)
	depth int
}

// frontier hands out URLs in the order they were found, at most maxPages
// of them in all, each once, and never two to the same host closer than
// delay apart. It reports the end when its queue is empty and nothing is
// in flight that could add to it.
type frontier struct {
	maxPages int
	delay    time.Duration

	mu        sync.Mutex
	queue     []crawlItem
	seen      map[string]bool
	found     int // distinct URLs seen (allowed ones), queued or not
	queued    int // URLs ever queued: at most maxPages
	inflight  int
	lastStart map[string]time.Time
	changed   chan struct{} // closed and replaced when queue or inflight changes
}

func newFrontier(maxPages int, delay time.Duration) *frontier {
	return &frontier{
		maxPages:  maxPages,
		delay:     delay,
		seen:      make(map[string]bool),
		lastStart: make(map[string]time.Time),
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
// called for it. It blocks while every queued URL waits for its host's
// politeness delay, or while the queue is empty and pages in flight may
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
		now := time.Now()
		var wait time.Duration
		for i, q := range f.queue {
			ready := f.lastStart[q.key].Add(f.delay)
			if f.delay <= 0 || !now.Before(ready) {
				f.queue = append(f.queue[:i], f.queue[i+1:]...)
				f.inflight++
				if f.delay > 0 {
					f.lastStart[q.key] = now
				}
				f.mu.Unlock()
				return q, true
			}
			if d := ready.Sub(now); wait == 0 || d < wait {
				wait = d
			}
		}
		ch := f.changed
		f.mu.Unlock()
		var timer *time.Timer
		var fire <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-ch:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// done ends an item that next handed out.
func (f *frontier) done() {
	f.mu.Lock()
	f.inflight--
	f.signalLocked()
	f.mu.Unlock()
}

// counts returns the URLs found and queued so far.
func (f *frontier) counts() (found, queued int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.found, f.queued
}
