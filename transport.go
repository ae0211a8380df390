// RoundTrip: the net/http drop-in, with streamed bodies and transparent gzip.

package asynchttp

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// RoundTrip implements http.RoundTripper, so a Client can be the Transport
// of an http.Client or an httputil.ReverseProxy. It honours req.Context()
// (waiting, dialing, writing and reading, the body included), req.Close,
// req.Host, req.Trailer (sent after a chunked body), streamed request
// bodies (chunked when req.ContentLength is unknown) and req.GetBody, which
// makes a body replayable for the one retry described at Do. The request
// body is closed exactly once, on every path, possibly after RoundTrip
// returns (a body still being sent while the response is read).
//
// The caller must read the response body to its end or close it: the
// connection goes back to the pool at io.EOF, or at Close when at most
// MaxDrainBytes remain and arrive within DrainTimeout; otherwise Close
// closes it. Trailers are in resp.Trailer after io.EOF (the names a
// Trailer field declares are there from the start, with nil values).
// Unless DisableCompression is set, a request with no Accept-Encoding or
// Range asks for gzip and the body is decompressed transparently
// (resp.Uncompressed is then true, as with net/http).
//
// A 101 Switching Protocols response that names its protocol (Upgrade
// and "Connection: upgrade") hands the connection over: its Body is an
// io.ReadWriteCloser (and a net.Conn) over the socket, with CloseWrite for
// a half-close. The connection leaves the pool when RoundTrip returns: its
// slots are free at once, Stats counts it closed with CloseUpgraded, and
// neither the request's context nor the pool touches it again; Body.Close
// closes it.
//
// Errors have net/http's identity: a request whose context ends returns
// the context's error itself (context.Canceled, context.DeadlineExceeded,
// or its cause); a body cut short reads io.ErrUnexpectedEOF; a failed
// certificate check returns crypto/tls's own error
// (*tls.CertificateVerificationError); a failed dial the dialer's
// (*net.OpError); a request net/http would refuse is refused in its words
// (`unsupported protocol scheme "ftp"`, `net/http: invalid header field
// name ...`) as a *RequestError. A request without a User-Agent gets
// net/http's, "Go-http-client/1.1"; one set to "" sends none.
func (c *Client) RoundTrip(hreq *http.Request) (_ *http.Response, err error) {
	ctx := hreq.Context()
	req := AcquireRequest()
	// req lives until the exchange ends: a body may still be going out
	// while the caller reads the response.
	handedOff := false
	var obs *reqObs   // follows the request for Events' request callbacks
	var adm admission // Config.HostLimiter's, once admitted
	// The attempt's turn; a panic in a hook mid-attempt still ends it.
	var turn hostTurn
	defer turn.skip()
	defer func() {
		if !handedOff {
			adm.end()
			obs.unwound()
			closeUnsent(req)
			ReleaseRequest(req)
		}
	}()
	gz, err := c.fromHTTP(hreq, req) // closes hreq.Body when it fails
	if err != nil {
		return nil, err
	}
	if err := c.begin(req, hreq); err != nil {
		return nil, httpErr(ctx, err)
	}
	obs = c.observe(req)
	var a attempts
	for {
		a.begin(&turn)
		cn, err := c.connFor(ctx, req, a.fresh, &adm, &turn)
		if err != nil {
			err = httpErr(ctx, err)
			obs.end(0, err)
			return nil, err
		}
		obs.attempt(cn)
		resp := AcquireResponse()
		ex, err := c.sendAndReadHead(ctx, cn, req, resp)
		if err != nil {
			ReleaseResponse(resp)
			if c.retryAfterError(&a, cn, req, err, &turn) {
				continue
			}
			err = httpErr(ctx, err)
			obs.end(0, err)
			return nil, err
		}
		if again, err := c.retryAfterHead(ctx, &a, req, resp, ex, &turn); again {
			ReleaseResponse(resp) // only the final response reaches the caller
			if err != nil {
				err = httpErr(ctx, err)
				obs.end(0, err)
				return nil, err
			}
			continue
		}
		if resp.StatusCode == http.StatusSwitchingProtocols && isProtocolSwitch(&resp.Header) {
			hr, err := c.upgrade(ctx, hreq, ex, resp)
			ReleaseResponse(resp)
			if err != nil {
				obs.end(0, err)
			} else {
				obs.end(hr.StatusCode, nil)
			}
			return hr, err
		}
		hr, err := c.toHTTP(ctx, hreq, req, ex, resp, gz, obs, adm.release)
		if err != nil {
			ReleaseResponse(resp)
			obs.end(0, err)
			return nil, err
		}
		handedOff = true
		return hr, nil
	}
}

// defaultUserAgent is the User-Agent RoundTrip sends when the request has
// none: net/http's own, so that servers and tests see what they see from
// net/http's Transport.
const defaultUserAgent = "Go-http-client/1.1"

// fromHTTP fills req from hreq; it reports whether it asked for gzip on the
// caller's behalf. It refuses what net/http's Transport refuses, in its
// words, and closes hreq.Body when it does.
func (c *Client) fromHTTP(hreq *http.Request, req *Request) (gz bool, err error) {
	if err := checkHTTPRequest(hreq); err != nil {
		if hreq.Body != nil {
			hreq.Body.Close() // RoundTrip always closes the body
		}
		return false, err
	}
	u := hreq.URL
	var userinfo string
	if u.User != nil {
		userinfo = u.User.String() + "@"
	}
	target := u.RequestURI()
	switch {
	case hreq.Method == http.MethodConnect && u.Path == "":
		// CONNECT host:port (RFC 9112 §3.2.3), or the URL's opaque part.
		req.target, req.opaque = targetAuthority, u.Opaque
		target = "/"
	case target == "*":
		req.target = targetAsterisk // OPTIONS * (RFC 9112 §3.2.4)
		target = "/"
	}
	// One concatenation: one allocation.
	req.SetRequestURI(u.Scheme + "://" + userinfo + u.Host + target)
	if hreq.Method != "" {
		req.SetMethod(hreq.Method)
	}
	if hreq.Host != "" && hreq.Host != u.Host {
		req.SetHost(hreq.Host)
	}
	// User-Agent first, as net/http writes it: a default when there is
	// none, nothing when it is set to "", the first value of several.
	if ua, ok := hreq.Header["User-Agent"]; !ok {
		req.Header.Add("User-Agent", defaultUserAgent)
	} else if len(ua) > 0 && ua[0] != "" {
		req.Header.Add("User-Agent", ua[0])
	}
	for k, vs := range hreq.Header {
		switch textproto.CanonicalMIMEHeaderKey(k) {
		case "Host": // net/http ignores it too: req.Host rules
			continue
		case "User-Agent":
			if k == "User-Agent" {
				continue // written above
			}
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if len(hreq.Trailer) > 0 {
		req.trailer = hreq.Trailer // read when the body ends
	}
	if hreq.Close {
		req.SetConnectionClose(true)
	}
	if hreq.Body != nil && hreq.Body != http.NoBody {
		size := hreq.ContentLength
		if size <= 0 {
			size = -1
		}
		if hreq.GetBody != nil && size > 0 && size <= inlineBodyMax {
			// An in-memory body (http.NewRequest gives those a GetBody):
			// buffer it, so that it goes out inline with the head, with
			// no sender goroutine, and replays without GetBody.
			if err := bufferBody(req, hreq.Body, size); err != nil {
				return false, err // bufferBody closed it
			}
		} else {
			req.SetBodyStream(hreq.Body, size)
			if hreq.GetBody != nil {
				req.SetGetBody(hreq.GetBody)
			}
		}
	}
	if !c.cfg.DisableCompression && hreq.Method != http.MethodHead &&
		hreq.Header.Get("Accept-Encoding") == "" && hreq.Header.Get("Range") == "" {
		req.Header.Add("Accept-Encoding", "gzip")
		gz = true
	}
	return gz, nil
}

// toHTTP builds the http.Response of an exchange whose head is in resp,
// with the fields as net/http sets them. On error the conn is closed.
func (c *Client) toHTTP(ctx context.Context, hreq *http.Request, req *Request, ex exchange, resp *Response, gz bool, obs *reqObs, release func()) (*http.Response, error) {
	// One allocation holds the body reader and the response.
	b := &respBody{c: c, ctx: ctx, ex: ex, req: req, resp: resp, obs: obs, release: release}
	hr := &b.hr
	*hr = http.Response{
		Status:        statusLine(resp),
		StatusCode:    resp.StatusCode,
		Proto:         "HTTP/1.1",
		ProtoMajor:    resp.ProtoMajor,
		ProtoMinor:    resp.ProtoMinor,
		Header:        toHTTPHeader(&resp.Header),
		ContentLength: resp.ContentLength,
		Request:       hreq,
	}
	if resp.ProtoMinor == 0 {
		hr.Proto = "HTTP/1.0"
	}
	if tc, ok := ex.cn.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		hr.TLS = &st
	}
	if err := httpFields(hr, ex.framing); err != nil {
		c.finish(ctx, ex, false)
		return nil, err
	}
	if ex.framing.mode == framingNone {
		c.finish(ctx, ex, true)
		if release != nil {
			release()
		}
		obs.end(hr.StatusCode, nil)
		ReleaseResponse(resp)
		closeUnsent(req)
		ReleaseRequest(req)
		hr.Body = http.NoBody
		return hr, nil
	}
	ex.cn.br.startBody(ex.framing, c.pool.lim.maxStreamBody, &resp.Trailer)
	hr.Body = b
	if gz && listHasToken([]byte(hr.Header.Get("Content-Encoding")), "gzip") {
		hr.Header.Del("Content-Encoding")
		hr.Header.Del("Content-Length")
		hr.ContentLength = -1
		hr.Uncompressed = true
		hr.Body = &gzipBody{body: b}
	}
	return hr, nil
}

// httpFields moves what net/http does not leave in Response.Header to its
// own fields: Transfer-Encoding to TransferEncoding (Content-Length goes
// with a chunked body), the names a Trailer field declares to Trailer
// (values nil until the body ends), and a "Connection: close" of HTTP/1.1
// to Close, which also says the body runs to the connection's close.
func httpFields(hr *http.Response, f bodyFraming) error {
	h := hr.Header
	connection := h["Connection"]
	hasClose := httpguts.HeaderValuesContainsToken(connection, "close")
	switch {
	case hr.ProtoMinor == 0:
		hr.Close = hasClose || !httpguts.HeaderValuesContainsToken(connection, "keep-alive")
	case hasClose:
		hr.Close = true
		delete(h, "Connection")
	}
	if f.mode == framingClose {
		hr.Close = true // an unbounded body
	}
	if te, ok := h["Transfer-Encoding"]; ok {
		delete(h, "Transfer-Encoding")
		// HTTP/1.0 ignores the field (and reads to the close); a HEAD,
		// 1xx, 204 or 304 answer says chunked with no body to decode.
		if hr.ProtoMinor > 0 && len(te) == 1 && strings.EqualFold(textproto.TrimString(te[0]), "chunked") {
			hr.TransferEncoding = []string{"chunked"}
			if f.mode == framingChunked {
				delete(h, "Content-Length")
			}
		}
	}
	declared, ok := h["Trailer"]
	if !ok || hr.TransferEncoding == nil {
		return nil // net/http also leaves a Trailer field without chunks in Header
	}
	delete(h, "Trailer")
	for _, v := range declared {
		for _, name := range strings.Split(v, ",") {
			name = textproto.TrimString(name)
			if name == "" {
				continue
			}
			key := textproto.CanonicalMIMEHeaderKey(name)
			switch key {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return protoErr("Trailer", fmt.Errorf("bad trailer key %q", key))
			}
			if hr.Trailer == nil {
				hr.Trailer = make(http.Header)
			}
			hr.Trailer[key] = nil
		}
	}
	return nil
}

// bufferBody reads a small request body of known size into req and closes
// it.
func bufferBody(req *Request, body io.ReadCloser, size int64) error {
	defer body.Close()
	buf := req.body[:0]
	if int64(cap(buf)) < size {
		buf = make([]byte, 0, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(body, buf); err != nil {
		return fmt.Errorf("asynchttp: reading request body: %w", err)
	}
	var one [1]byte
	if n, _ := body.Read(one[:]); n > 0 {
		return &RequestError{Field: "body", Reason: "longer than its ContentLength"}
	}
	req.SetBody(nil)
	req.body = buf // read in place: no second copy
	return nil
}

// statusLine is http.Response.Status as net/http makes it: "200 OK", or
// the code alone when the status line has no reason phrase. The usual
// lines are shared strings.
func statusLine(resp *Response) string {
	code := resp.StatusCode
	if len(resp.reason) == 0 {
		return strconv.Itoa(code) // small codes: no allocation
	}
	if code >= 100 && code < 600 {
		if s := statusLines[code-100]; s != "" && s[4:] == string(resp.reason) {
			return s
		}
	}
	return strconv.Itoa(code) + " " + string(resp.reason)
}

var statusLines = func() (t [500]string) {
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			t[code-100] = strconv.Itoa(code) + " " + text
		}
	}
	return t
}()

// toHTTPHeader converts h for net/http: canonical keys (common ones
// shared, not allocated), and every value carved out of one string.
func toHTTPHeader(h *Header) http.Header {
	n := h.Len()
	out := make(http.Header, n)
	if n == 0 {
		return out
	}
	size := 0
	h.VisitAll(func(_, v []byte) { size += len(v) })
	var sb strings.Builder // its String does not copy
	sb.Grow(size)
	h.VisitAll(func(_, v []byte) { sb.Write(v) })
	all := sb.String()
	vals := make([]string, n)
	i, off := 0, 0
	var kb [64]byte
	h.VisitAll(func(k, v []byte) {
		vals[i] = all[off : off+len(v)]
		off += len(v)
		key := canonicalKey(k, kb[:0])
		if prev, ok := out[key]; ok {
			out[key] = append(prev, vals[i])
		} else {
			out[key] = vals[i : i+1 : i+1]
		}
		i++
	})
	return out
}

// canonicalKey is textproto.CanonicalMIMEHeaderKey for a byte slice,
// returning a shared string for the common field names.
func canonicalKey(k []byte, scratch []byte) string {
	b := append(scratch, k...)
	upper := true
	for i, c := range b {
		if c == '-' {
			upper = true
			continue
		}
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		} else if !upper && 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
		upper = false
	}
	if s, ok := commonKeys[string(b)]; ok {
		return s
	}
	return textproto.CanonicalMIMEHeaderKey(string(k))
}

var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Age", "Cache-Control", "Connection", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Location",
		"Content-Range", "Content-Security-Policy", "Content-Type", "Date", "Etag",
		"Expires", "Keep-Alive", "Last-Modified", "Link", "Location", "Pragma",
		"Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security", "Trailer",
		"Transfer-Encoding", "Vary", "Via", "Www-Authenticate", "X-Content-Type-Options",
		"X-Frame-Options", "X-Request-Id",
	} {
		m[k] = k
	}
	return m
}()
