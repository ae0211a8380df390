// Link extraction from HTML, for the crawler.

package main

import (
	"bytes"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// maxLinksPerPage bounds what one page can add to the frontier.
const maxLinksPerPage = 1000

// extractLinks returns the absolute http(s) URLs that page links to
// (a[href], area[href], honouring <base href>), without fragments, each
// once, in document order.
func extractLinks(base *url.URL, page []byte) []*url.URL {
	z := html.NewTokenizer(bytes.NewReader(page))
	seen := make(map[string]bool)
	var out []*url.URL
	for len(out) < maxLinksPerPage {
		tt := z.Next()
		if tt == html.ErrorToken {
			break // io.EOF, or a tokenizer error: keep what we have
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		tag := string(name)
		if !hasAttr || (tag != "a" && tag != "area" && tag != "base") {
			continue
		}
		for {
			k, v, more := z.TagAttr()
			if string(k) == "href" {
				if tag == "base" {
					if b, err := base.Parse(strings.TrimSpace(string(v))); err == nil {
						base = b
					}
				} else if u := resolve(base, string(v)); u != nil && !seen[u.String()] {
					seen[u.String()] = true
					out = append(out, u)
				}
				break
			}
			if !more {
				break
			}
		}
	}
	return out
}

// resolve returns ref resolved against base when it is an http(s) URL
// with a host, else nil. The fragment is dropped.
func resolve(base *url.URL, ref string) *url.URL {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.HasPrefix(ref, "#") {
		return nil
	}
	u, err := base.Parse(ref)
	if err != nil {
		return nil
	}
	u.Fragment, u.RawFragment = "", ""
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil
	}
	u.Host = strings.ToLower(u.Host)
	if u.Path == "" {
		u.Path = "/"
	}
	return u
}
