// Header: ordered fields, Set/Del, tokens, validators, reuse without
// allocation.

package asynchttp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHeaderAddGetOrder(t *testing.T) {
	var h Header
	assert.Equal(t, 0, h.Len())
	assert.Equal(t, "", h.Get("X"))
	assert.Nil(t, h.Peek("X"))
	assert.False(t, h.Has("X"))

	h.Add("Accept", "a")
	h.AddBytes([]byte("X-Multi"), []byte("1"))
	h.Add("x-multi", "2")
	h.Add("X-MULTI", "3")
	h.Add("Empty", "")

	assert.Equal(t, 5, h.Len())
	assert.Equal(t, "a", h.Get("accept"))
	assert.Equal(t, "1", h.Get("X-Multi"))
	assert.Equal(t, []byte("1"), h.Peek("x-MULTI"))
	assert.Equal(t, []string{"1", "2", "3"}, h.Values("x-multi"))
	assert.Nil(t, h.Values("nope"))
	assert.True(t, h.Has("EMPTY"))
	assert.Equal(t, []byte{}, h.Peek("empty"))

	var keys, vals []string
	h.VisitAll(func(k, v []byte) {
		keys = append(keys, string(k))
		vals = append(vals, string(v))
	})
	assert.Equal(t, []string{"Accept", "X-Multi", "x-multi", "X-MULTI", "Empty"}, keys)
	assert.Equal(t, []string{"a", "1", "2", "3", ""}, vals)
}

func TestHeaderSetDel(t *testing.T) {
	for _, tt := range []struct {
		name string
		do   func(h *Header)
		want []string // "k=v" in order
	}{
		{"set new appends", func(h *Header) { h.Set("New", "n") }, []string{"A=1", "B=2", "a=3", "C=4", "New=n"}},
		{"set replaces all at first position", func(h *Header) { h.Set("A", "x") }, []string{"A=x", "B=2", "C=4"}},
		{"set case-insensitive", func(h *Header) { h.Set("c", "y") }, []string{"A=1", "B=2", "a=3", "c=y"}},
		{"del all", func(h *Header) { h.Del("a") }, []string{"B=2", "C=4"}},
		{"del missing", func(h *Header) { h.Del("zz") }, []string{"A=1", "B=2", "a=3", "C=4"}},
		{"reset", func(h *Header) { h.Reset() }, nil},
		{"reset then add", func(h *Header) { h.Reset(); h.Add("Z", "9") }, []string{"Z=9"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h Header
			h.Add("A", "1")
			h.Add("B", "2")
			h.Add("a", "3")
			h.Add("C", "4")
			tt.do(&h)
			var got []string
			h.VisitAll(func(k, v []byte) { got = append(got, string(k)+"="+string(v)) })
			assert.Equal(t, tt.want, got)
			assert.Equal(t, len(tt.want), h.Len())
		})
	}
}

func TestHeaderPeekDoesNotAlias(t *testing.T) {
	var h Header
	h.Add("A", "1")
	h.Add("B", "2")
	p := h.Peek("A")
	_ = append(p, 'X') // capacity is clipped: must not clobber "B"
	assert.Equal(t, "B", string(h.nameAt(1)))
	assert.Equal(t, "2", h.Get("B"))
}

func TestHeaderCopyTo(t *testing.T) {
	var h, dst Header
	h.Add("A", "1")
	h.Add("B", "2")
	dst.Add("Old", "x")
	h.CopyTo(&dst)
	h.Set("A", "changed")
	assert.Equal(t, 2, dst.Len())
	assert.Equal(t, "1", dst.Get("a"))
	assert.False(t, dst.Has("Old"))
	h.CopyTo(&h) // self copy is a no-op
	assert.Equal(t, "changed", h.Get("A"))
}

func TestHeaderHasToken(t *testing.T) {
	for _, tt := range []struct {
		name   string
		fields []string // name, value pairs
		key    string
		token  string
		want   bool
	}{
		{"simple", []string{"Connection", "close"}, "connection", "close", true},
		{"case", []string{"CONNECTION", "Close"}, "Connection", "close", true},
		{"list", []string{"Connection", "keep-alive, Upgrade"}, "Connection", "upgrade", true},
		{"ows", []string{"Connection", " \tfoo ,\t close \t"}, "Connection", "close", true},
		{"second field", []string{"Connection", "foo", "Connection", "close"}, "Connection", "close", true},
		{"substring is not token", []string{"Connection", "closed"}, "Connection", "close", false},
		{"prefix is not token", []string{"Connection", "xclose"}, "Connection", "close", false},
		{"other field", []string{"X-Connection", "close"}, "Connection", "close", false},
		{"empty elems", []string{"Transfer-Encoding", ",,chunked,"}, "Transfer-Encoding", "chunked", true},
		{"absent", nil, "Connection", "close", false},
		{"empty value", []string{"Connection", ""}, "Connection", "close", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h Header
			for i := 0; i < len(tt.fields); i += 2 {
				h.Add(tt.fields[i], tt.fields[i+1])
			}
			assert.Equal(t, tt.want, h.hasToken(tt.key, tt.token))
		})
	}
}

func TestHeaderValidators(t *testing.T) {
	assert.True(t, validToken("X-Good_1!#$%&'*+.^`|~"))
	for _, bad := range []string{"", "a b", "a:b", "a\r", "a\n", "a\x00", "a\x7f", "é", "(x)", "a/b"} {
		assert.False(t, validToken(bad), "%q", bad)
	}
	assert.True(t, validFieldValue("ok\tvalue é \x80"))
	assert.True(t, validFieldValue(""))
	for _, bad := range []string{"a\rb", "a\nb", "a\x00", "\x7f", "\x01"} {
		assert.False(t, validFieldValue(bad), "%q", bad)
	}
}

func TestHeaderReuseNoAlloc(t *testing.T) {
	var h Header
	fill := func() {
		h.Reset()
		h.Add("Accept", "*/*")
		h.AddBytes([]byte("X-A"), []byte("b"))
		h.Set("Accept", "text/plain")
		_ = h.Peek("x-a")
		_ = h.hasToken("Accept", "text/plain")
	}
	fill()
	require.Zero(t, testing.AllocsPerRun(100, fill))
}
