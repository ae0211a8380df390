// Package shrink gives back the memory of maps that held many entries
// once: a Go map never frees its buckets as entries are deleted.
package shrink

// Map returns m and the peak to track from now on: m itself while it
// holds at least a quarter of peak (the most it held since it was made),
// else a copy sized for what it holds now. Small maps are left alone.
func Map[K comparable, V any](m map[K]V, peak int) (map[K]V, int) {
	peak = max(peak, len(m))
	if peak <= 64 || len(m) >= peak/4 {
		return m, peak
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c, len(c)
}
