// Extracting links from a page.

package main

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExtractLinks(t *testing.T) {
	base, err := url.Parse("http://a.test/dir/page.html")
	require.NoError(t, err)
	for _, tt := range []struct {
		name, html string
		want       []string
	}{
		{"relative and absolute", `<a href="x.html">x</a><a href="/y">y</a><a href="http://B.test:8080/z">z</a>`,
			[]string{"http://a.test/dir/x.html", "http://a.test/y", "http://b.test:8080/z"}},
		{"fragment dropped, duplicates once", `<a href="/y#one">1</a><a href="/y#two">2</a><a href="#top">top</a>`,
			[]string{"http://a.test/y"}},
		{"other schemes dropped", `<a href="mailto:a@b">m</a><a href="javascript:x()">j</a><a href="ftp://c/">f</a><a href="https://d.test">d</a>`,
			[]string{"https://d.test/"}},
		{"base href", `<head><base href="http://c.test/sub/"></head><a href="p">p</a>`,
			[]string{"http://c.test/sub/p"}},
		{"area, whitespace, no href", `<area href=" /map "><a name="n">n</a><a href="">e</a>`,
			[]string{"http://a.test/map"}},
		{"broken HTML", `<a href="/ok">ok</a><a href="/cut`, []string{"http://a.test/ok"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, u := range extractLinks(base, []byte(tt.html)) {
				got = append(got, u.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
