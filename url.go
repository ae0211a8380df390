// Parsing and checking a request URL: scheme, userinfo, host and port,
// path and query, and the pool key made from them.

package asynchttp

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// parseURI fills the prepared fields from r.uri.
func (r *Request) parseURI() error {
	u := r.uri
	i := strings.Index(u, "://")
	if i < 0 {
		return reqErr("URL", "not an absolute http or https URL")
	}
	switch scheme := u[:i]; {
	case strings.EqualFold(scheme, "http"):
	case strings.EqualFold(scheme, "https"):
		r.tls = true
	default:
		return reqErr("URL", "scheme is not http or https")
	}
	rest := u[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, rest := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if err := r.setUserinfo(authority[:at]); err != nil {
			return err
		}
		authority = authority[at+1:]
	}
	host, port, bracket, err := splitHostPort(authority)
	if err != nil {
		return err
	}
	r.hostHeader = authority
	if port == "" {
		r.hostHeader = authority[:len(host)+2*b2i(bracket)]
	}
	if !isASCII(host) {
		a, err := toASCIIHost(host)
		if err != nil {
			return err
		}
		host = a
		r.hostHeader = a
		if port != "" {
			r.hostHeader += ":" + port
		}
	} else if err := checkHost(host, bracket); err != nil {
		return err
	}
	r.host = host
	if port == "" {
		r.port = 80
		if r.tls {
			r.port = 443
		}
	} else {
		r.port, _ = strconv.Atoi(port) // checked by splitHostPort
	}

	if h := strings.IndexByte(rest, '#'); h >= 0 {
		rest = rest[:h]
	}
	r.path = rest
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		r.path, r.query, r.hasQuery = rest[:q], rest[q+1:], true
	}
	r.asciiPath = true
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c <= ' ' || c == 0x7f {
			return reqErr("URL", "path or query contains a space or control byte")
		}
		if c >= 0x80 {
			r.asciiPath = false
		}
	}

	// hostKey: scheme://host:port, lowercased.
	k := r.keyBuf[:0]
	if r.tls {
		k = append(k, "https://"...)
	} else {
		k = append(k, "http://"...)
	}
	if bracket {
		k = append(k, '[')
	}
	for i := 0; i < len(host); i++ {
		k = append(k, lowerASCII(host[i]))
	}
	if bracket {
		k = append(k, ']')
	}
	k = append(k, ':')
	r.keyBuf = strconv.AppendInt(k, int64(r.port), 10)
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// setUserinfo turns "user[:password]" (percent-encoded) into base64
// credentials for a Basic Authorization field.
func (r *Request) setUserinfo(ui string) error {
	if ui == "" {
		return nil
	}
	d := r.scratch[:0]
	for i := 0; i < len(ui); i++ {
		c := ui[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return reqErr("URL", "userinfo contains a space or control byte")
		case c == '%':
			if i+2 >= len(ui) || !isHex(ui[i+1]) || !isHex(ui[i+2]) {
				return reqErr("URL", "bad percent-encoding in userinfo")
			}
			c = unhex(ui[i+1])<<4 | unhex(ui[i+2])
			i += 2
		}
		d = append(d, c)
	}
	if strings.IndexByte(ui, ':') < 0 {
		d = append(d, ':') // "user" alone means an empty password
	}
	r.scratch = d
	r.authBuf = base64.StdEncoding.AppendEncode(r.authBuf[:0], d)
	r.hasAuth = true
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// splitHostPort splits "host", "host:port", "[ipv6]" or "[ipv6]:port". The
// port, if present, is checked to be a number in 1..65535; an empty port
// ("host:") counts as none.
func splitHostPort(s string) (host, port string, bracket bool, err error) {
	if s == "" {
		return "", "", false, reqErr("host", "empty")
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false, reqErr("host", "missing ']'")
		}
		host, s, bracket = s[1:end], s[end+1:], true
		if s != "" && s[0] != ':' {
			return "", "", false, reqErr("host", "bytes after ']'")
		}
	} else if c := strings.LastIndexByte(s, ':'); c >= 0 {
		host, s = s[:c], s[c:]
	} else {
		host, s = s, ""
	}
	if host == "" {
		return "", "", false, reqErr("host", "empty")
	}
	if len(s) > 1 {
		port = s[1:]
		n := 0
		for i := 0; i < len(port); i++ {
			c := port[i]
			if c < '0' || c > '9' || i >= 5 {
				return "", "", false, reqErr("host", "port is not a number in 1..65535")
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 || n > 65535 {
			return "", "", false, reqErr("host", "port is not a number in 1..65535")
		}
	}
	return host, port, bracket, nil
}

// checkHost validates an ASCII host: an IPv6 literal when it was in
// brackets, else a DNS name or IPv4 address (letters, digits, '-', '.',
// '_', '~').
func checkHost(host string, bracket bool) error {
	if bracket {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return reqErr("host", "invalid IPv6 literal")
		}
		return nil
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			return reqErr("host", "invalid character in host name")
		}
	}
	return nil
}

// toASCIIHost converts a non-ASCII host name with IDNA (Lookup profile).
func toASCIIHost(host string) (string, error) {
	a, err := idna.Lookup.ToASCII(host)
	if err != nil {
		return "", reqErr("host", "invalid international host name")
	}
	if err := checkHost(a, false); err != nil {
		return "", err
	}
	return a, nil
}

// validHostField reports whether v, a Host field value, is "host[:port]".
func validHostField(v []byte) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	host, _, bracket, err := splitHostPort(string(v))
	return err == nil && checkHost(host, bracket) == nil
}
