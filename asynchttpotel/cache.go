// A bounded cache of the attribute sets of request measurements.

package asynchttpotel

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
)

// maxCachedSets bounds the cache: a crawler reaching many hosts makes
// many sets, and the cache starts over when it is full.
const maxCachedSets = 4096

// setKey names an attribute set: what it is for, and the values it is
// made of (method already normalised, so unknown methods share one key).
type setKey struct {
	kind    uint8
	method  string
	host    string
	status  int
	errType string
}

const (
	activeSet uint8 = iota
	queueSet
	durationSet
)

// setCache saves building, sorting and hashing the same attributes for
// every request to the same host.
type setCache struct {
	mu   sync.RWMutex
	sets map[setKey]attribute.Set
}

func (c *setCache) get(k setKey, build func() attribute.Set) attribute.Set {
	c.mu.RLock()
	s, ok := c.sets[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = build()
	c.mu.Lock()
	if c.sets == nil || len(c.sets) >= maxCachedSets {
		c.sets = make(map[setKey]attribute.Set)
	}
	c.sets[k] = s
	c.mu.Unlock()
	return s
}
