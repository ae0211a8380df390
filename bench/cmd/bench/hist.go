// A fixed-size log-linear latency histogram (32 sub-buckets per power of
// two, about 3% resolution) that records without allocating.

package main

import "math/bits"

const histSize = 64 + 40*32

type hist [histSize]uint32

func histIndex(v int64) int {
	if v < 64 {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	msb := bits.Len64(uint64(v)) - 1 // >= 6
	sub := int(v>>(msb-5)) & 31
	i := 64 + (msb-6)*32 + sub
	return min(i, histSize-1)
}

// histValue is the middle of bucket i, in the recorded unit.
func histValue(i int) int64 {
	if i < 64 {
		return int64(i)
	}
	msb := (i-64)/32 + 6
	sub := int64((i - 64) % 32)
	lo := (32 + sub) << (msb - 5)
	return lo + (int64(1)<<(msb-5))/2
}

func (h *hist) add(v int64) { h[histIndex(v)]++ }

func (h *hist) merge(o *hist) {
	for i := range h {
		h[i] += o[i]
	}
}

// quantile returns the value at quantile q (0..1), or 0 if empty.
func (h *hist) quantile(q float64) int64 {
	var n uint64
	for _, c := range h {
		n += uint64(c)
	}
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var cum uint64
	for i, c := range h {
		cum += uint64(c)
		if cum >= rank {
			return histValue(i)
		}
	}
	return histValue(histSize - 1)
}
