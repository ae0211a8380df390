package shrink_test

import (
	"testing"

	"github.com/asynchttp/asynchttp/internal/shrink"
	"github.com/stretchr/testify/assert"
)

func TestMapIsCopiedOnceUnderAQuarterOfItsPeak(t *testing.T) {
	m := map[int]int{}
	for i := range 1000 {
		m[i] = i
	}
	peak := len(m)
	for i := range 750 {
		delete(m, i)
	}
	same, p := shrink.Map(m, peak)
	assert.Equal(t, 1000, p, "250 of 1000: kept")
	same[-1] = 0
	assert.Contains(t, m, -1, "the same map")
	delete(m, -1)
	delete(m, 999)
	c, p := shrink.Map(m, peak)
	assert.Equal(t, 249, p, "the copy's size is the new peak")
	assert.Len(t, c, 249)
	c[-2] = 0
	assert.NotContains(t, m, -2, "a new map")
	small := map[int]int{1: 1}
	s, p := shrink.Map(small, 60)
	assert.Equal(t, 60, p)
	assert.Len(t, s, 1)
}
