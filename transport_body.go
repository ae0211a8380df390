// The body RoundTrip hands its caller: streamed off the conn, ended exactly once, transparently gunzipped.

package asynchttp

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"sync"
)

// respBody streams a response body off its conn. Read and Close may be
// called from different goroutines: a Close during a Read interrupts it.
type respBody struct {
	hr   http.Response
	c    *Client
	ctx  context.Context
	ex   exchange
	req  *Request // released when the exchange ends
	resp *Response
	obs  *reqObs // told when the exchange ends; nil when no one listens
	// release is Config.HostLimiter's for this request, called when the
	// exchange ends; nil without a limiter.
	release func()

	mu       sync.Mutex
	reading  bool
	closed   bool
	finished bool  // the conn has been released or closed
	err      error // what Read returns once finished
}

var errBodyClosed = errors.New("asynchttp: read on closed response body")

func (b *respBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return 0, errBodyClosed
	case b.finished:
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	b.reading = true
	b.mu.Unlock()

	n, err := b.ex.cn.br.body.Read(p)

	b.mu.Lock()
	b.reading = false
	switch {
	case err == io.EOF:
		// After a Close that raced this Read, the conn may carry the
		// interrupt's past deadline: it must not be reused.
		b.endLocked(!b.closed, io.EOF)
	case err != nil && b.closed:
		b.endLocked(false, errBodyClosed)
		err = b.err
	case err != nil:
		b.endLocked(false, bodyHTTPErr(b.ctx, bodyErr(b.ctx, b.ex, err)))
		err = b.err
	case b.closed:
		// Closed while we read: the conn may carry a past deadline.
		b.endLocked(false, errBodyClosed)
	}
	b.mu.Unlock()
	return n, err
}

// WriteTo copies the rest of the body to w with a pooled 32 KiB buffer,
// so that io.Copy (to io.Discard, a file, a hash) reads the socket in
// large parts. It ends the body like reading it to io.EOF does.
func (b *respBody) WriteTo(w io.Writer) (int64, error) {
	bp := partPool.Get().(*[]byte)
	defer partPool.Put(bp)
	var total int64
	for {
		n, err := b.Read(*bp)
		if n > 0 {
			m, werr := w.Write((*bp)[:n])
			total += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// endLocked finishes the exchange once: the conn is released when ok.
func (b *respBody) endLocked(ok bool, err error) {
	if b.finished {
		return
	}
	b.finished, b.err = true, err
	if ok {
		b.resp.Trailer.VisitAll(func(k, v []byte) {
			key := textproto.CanonicalMIMEHeaderKey(string(k))
			if b.hr.Trailer == nil {
				b.hr.Trailer = make(http.Header)
			}
			b.hr.Trailer[key] = append(b.hr.Trailer[key], string(v))
		})
	}
	b.c.finish(b.ctx, b.ex, ok) // waits for a body sender still at work
	if b.release != nil {
		b.release()
		b.release = nil
	}
	if err == io.EOF || err == errBodyClosed {
		b.obs.end(b.hr.StatusCode, nil) // read to its end, or closed by the caller
	} else {
		b.obs.end(b.hr.StatusCode, err)
	}
	ReleaseResponse(b.resp)
	closeUnsent(b.req)
	ReleaseRequest(b.req)
	b.resp, b.req = nil, nil
}

// Close ends the body. A remainder of at most MaxDrainBytes that arrives
// within DrainTimeout is read and dropped so the conn can be reused;
// otherwise the conn is closed.
func (b *respBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	switch {
	case b.finished:
	case b.reading:
		b.ex.cn.interrupt() // Read fails at once and closes the conn
	default:
		b.endLocked(drain(b.ctx, b.ex), errBodyClosed)
	}
	return nil
}

// gzipBody decompresses a body on the fly; the gzip reader is made at the
// first Read so that a body closed unread costs nothing.
type gzipBody struct {
	body *respBody
	zr   *gzip.Reader
	err  error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.body)
		if err != nil {
			g.err = err
			return 0, err
		}
		g.zr = zr
	}
	n, err := g.zr.Read(p)
	if err != nil {
		g.err = err
	}
	return n, err
}

func (g *gzipBody) Close() error { return g.body.Close() }
