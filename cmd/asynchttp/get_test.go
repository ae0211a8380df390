// asynchttp get: fetching URLs, saving bodies, caps, and errors.

package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hello(int, []*testServer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	})
}

func TestGet(t *testing.T) {
	srv := startServers(t, 1, hello)[0]
	dir := t.TempDir()
	code, out, errOut := runTool(t, "get", "-c", "1", "-v", "-o", dir, srv.url+"/a", srv.url+"/a", srv.url+"/b?x=1")
	require.Equal(t, exitOK, code, errOut)
	assert.Empty(t, errOut)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "200 ") {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 3, out)
	assert.Contains(t, lines[0], "new conn")
	assert.Contains(t, lines[1], "reused", "one at a time: the second request reuses the connection")
	assert.Contains(t, lines[2], "reused")
	assert.True(t, strings.HasSuffix(lines[0], srv.url+"/a"))
	assert.Contains(t, out, "X-Test: yes", "-v prints headers")
	assert.Equal(t, 1, srv.peak(), "server-side: one connection")

	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, 3)
	b, err := os.ReadFile(filepath.Join(dir, files[0].Name()))
	require.NoError(t, err)
	assert.Equal(t, "hello /a", string(b))
}

func TestGetCaps(t *testing.T) {
	srvs := startServers(t, 2, func(int, []*testServer) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond)
			fmt.Fprint(w, "ok")
		})
	})
	var args []string
	args = append(args, "get", "-max-conns-per-host", "2", "-max-total-conns", "3")
	for i := range 10 {
		args = append(args, srvs[i%2].url+"/"+strconv.Itoa(i))
	}
	code, out, errOut := runTool(t, args...)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, 10, strings.Count(out, "\n200 ")+boolInt(strings.HasPrefix(out, "200 ")))
	total, _ := srvs[0].conns.peaks()
	assert.LessOrEqual(t, total, 3)
	assert.LessOrEqual(t, srvs[0].peak(), 2)
	assert.LessOrEqual(t, srvs[1].peak(), 2)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestGetErrors(t *testing.T) {
	srv := startServers(t, 1, hello)[0]
	down := downAddr(t)
	for _, tt := range []struct {
		name  string
		args  []string
		code  int
		lines int    // lines on stderr
		want  string // on stderr
	}{
		{"malformed URL", []string{"get", "127.0.0.1/x"}, exitUsage, 1, "no scheme"},
		{"bad scheme", []string{"get", "ftp://127.0.0.1/x"}, exitUsage, 1, `scheme "ftp" not supported`},
		{"no host", []string{"get", "http:///x"}, exitUsage, 1, "no host"},
		{"bad port", []string{"get", "http://127.0.0.1:99999/"}, exitUsage, 1, "bad port"},
		{"unknown flag", []string{"get", "-frob", srv.url}, exitUsage, 1, "flag provided but not defined: -frob"},
		{"no URL", []string{"get"}, exitUsage, 1, "no URL given"},
		{"refused", []string{"get", "http://" + down + "/"}, exitFailed, 1, "connection refused by " + down},
		{"one of two refused", []string{"get", srv.url, "http://" + down + "/"}, exitFailed, 1, "connection refused by " + down},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runTool(t, tt.args...)
			assert.Equal(t, tt.code, code)
			assert.Equal(t, tt.lines, strings.Count(errOut, "\n"), errOut)
			assert.Contains(t, errOut, tt.want)
		})
	}
}
