// Header: an ordered, allocation-free list of HTTP header fields.

package asynchttp

import "golang.org/x/net/http/httpguts"

// headerField locates one field's name and value inside Header.buf.
type headerField struct {
	k0, k1, v0, v1 int
}

// Header is an ordered list of header fields; repeated fields keep their
// order. The zero value is empty and ready. Lookups are ASCII
// case-insensitive; names are stored as given (a response's names exactly as
// received). Names and values live in one reused byte buffer, so a Header
// reused after Reset does not allocate. Storage freed by Set and Del is
// reclaimed only by Reset.
type Header struct {
	buf    []byte
	fields []headerField
}

// Add appends the field key: value, keeping any field of the same name.
func (h *Header) Add(key, value string) {
	k0 := len(h.buf)
	h.buf = append(h.buf, key...)
	v0 := len(h.buf)
	h.buf = append(h.buf, value...)
	h.fields = append(h.fields, headerField{k0, v0, v0, len(h.buf)})
}

// AddBytes is Add for byte slices; it copies key and value.
func (h *Header) AddBytes(key, value []byte) {
	k0 := len(h.buf)
	h.buf = append(h.buf, key...)
	v0 := len(h.buf)
	h.buf = append(h.buf, value...)
	h.fields = append(h.fields, headerField{k0, v0, v0, len(h.buf)})
}

// Set replaces every field named key by one field key: value, at the
// position of the first of them (or at the end if there was none).
func (h *Header) Set(key, value string) {
	i := h.index(key)
	if i < 0 {
		h.Add(key, value)
		return
	}
	k0 := len(h.buf)
	h.buf = append(h.buf, key...)
	v0 := len(h.buf)
	h.buf = append(h.buf, value...)
	h.fields[i] = headerField{k0, v0, v0, len(h.buf)}
	h.delFrom(i+1, key)
}

// Get returns the value of the first field named key, or "" if there is none.
func (h *Header) Get(key string) string {
	if i := h.index(key); i >= 0 {
		f := h.fields[i]
		return string(h.buf[f.v0:f.v1])
	}
	return ""
}

// Peek returns the value of the first field named key without allocating,
// or nil if there is none. The slice is valid until h changes.
func (h *Header) Peek(key string) []byte {
	if i := h.index(key); i >= 0 {
		f := h.fields[i]
		return h.buf[f.v0:f.v1:f.v1]
	}
	return nil
}

// Values returns the values of all fields named key, in order.
func (h *Header) Values(key string) []string {
	var vs []string
	for _, f := range h.fields {
		if equalFoldBytes(h.buf[f.k0:f.k1], key) {
			vs = append(vs, string(h.buf[f.v0:f.v1]))
		}
	}
	return vs
}

// Has reports whether a field named key is present.
func (h *Header) Has(key string) bool { return h.index(key) >= 0 }

// Del removes every field named key.
func (h *Header) Del(key string) { h.delFrom(0, key) }

// Len returns the number of fields.
func (h *Header) Len() int { return len(h.fields) }

// VisitAll calls f for each field, in order. key and value are valid only
// during the call.
func (h *Header) VisitAll(f func(key, value []byte)) {
	for i := 0; i < len(h.fields); i++ {
		fd := h.fields[i]
		f(h.buf[fd.k0:fd.k1:fd.k1], h.buf[fd.v0:fd.v1:fd.v1])
	}
}

// Reset removes all fields, keeping the storage for reuse.
func (h *Header) Reset() {
	h.buf = h.buf[:0]
	h.fields = h.fields[:0]
}

// CopyTo makes dst an exact copy of h, reusing dst's storage.
func (h *Header) CopyTo(dst *Header) {
	if dst == h {
		return
	}
	dst.buf = append(dst.buf[:0], h.buf...)
	dst.fields = append(dst.fields[:0], h.fields...)
}

// hasToken reports whether any field named key holds token in its
// comma-separated list, compared case-insensitively with OWS trimmed.
func (h *Header) hasToken(key, token string) bool {
	for _, f := range h.fields {
		if equalFoldBytes(h.buf[f.k0:f.k1], key) && listHasToken(h.buf[f.v0:f.v1], token) {
			return true
		}
	}
	return false
}

// index returns the position of the first field named key, or -1.
func (h *Header) index(key string) int {
	for i, f := range h.fields {
		if equalFoldBytes(h.buf[f.k0:f.k1], key) {
			return i
		}
	}
	return -1
}

// delFrom removes the fields named key at positions i and later.
func (h *Header) delFrom(i int, key string) {
	j := i
	for ; i < len(h.fields); i++ {
		f := h.fields[i]
		if !equalFoldBytes(h.buf[f.k0:f.k1], key) {
			h.fields[j] = f
			j++
		}
	}
	h.fields = h.fields[:j]
}

// nameAt and valueAt give the parts of field i without copying.
func (h *Header) nameAt(i int) []byte {
	f := h.fields[i]
	return h.buf[f.k0:f.k1:f.k1]
}

func (h *Header) valueAt(i int) []byte {
	f := h.fields[i]
	return h.buf[f.v0:f.v1:f.v1]
}

// listHasToken reports whether the comma-separated list v holds token.
func listHasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var elem []byte
		elem, v = nextListElem(v)
		if equalFoldBytes(elem, token) {
			return true
		}
	}
	return false
}

// nextListElem splits off the first element of a comma-separated list,
// with OWS trimmed, and returns it and the rest after the comma.
func nextListElem(v []byte) (elem, rest []byte) {
	for i := 0; i < len(v); i++ {
		if v[i] == ',' {
			return trimOWS(v[:i]), v[i+1:]
		}
	}
	return trimOWS(v), nil
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFoldBytes reports whether a and b are equal under ASCII case folding.
func equalFoldBytes(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// validToken reports whether s is a non-empty RFC 9110 token (the grammar of
// methods and field names).
func validToken[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return true
}

// validFieldValue reports whether s may be a field value: no control bytes
// but HTAB (so no CR, LF or NUL). obs-text bytes (0x80 and up) are allowed.
func validFieldValue[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
