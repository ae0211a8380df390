// An idle conn holds its socket and its place in the pool, and little
// else: buffers and per-use state are lent while it is in use.

package asynchttp

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

func TestAnIdleConnFitsIn240Bytes(t *testing.T) {
	// 240 bytes is a size class of the Go allocator; one byte more costs
	// 16 per conn (the 256 class). The struct was 392 bytes (416 with its
	// class) before its per-use state moved to the lent read buffer and
	// the pool entry kept its times as offsets.
	assert.LessOrEqual(t, unsafe.Sizeof(conn{}), uintptr(240))
	assert.LessOrEqual(t, unsafe.Sizeof(connReader{}), uintptr(256), "the lent part: a bufio.Reader and a body reader")
}
