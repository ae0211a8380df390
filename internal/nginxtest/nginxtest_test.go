// Starting nginx with a generated config, serving files, and skipping (or
// failing under CI) when nginx is missing.

package nginxtest

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartServesFilesAndStops(t *testing.T) {
	s := Start(t, Options{})
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for _, f := range s.Files {
		resp, err := hc.Get(s.URL + "/" + f.Name)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode, f.Name)
		assert.Equal(t, f.Data, body, f.Name)
		assert.Equal(t, int64(len(f.Data)), resp.ContentLength, f.Name)
	}

	// gzip is on for text: the response is chunked and decodes to the file.
	req, err := http.NewRequest("GET", s.URL+"/16k.txt", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	zr, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	body, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, s.File("16k.txt").Data, body)

	pid := s.cmd.Process.Pid
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "idempotent")
	assert.True(t, errors.Is(syscall.Kill(-pid, 0), syscall.ESRCH), "no process left in nginx's group")
	_, err = http.Get(s.URL)
	assert.Error(t, err, "nothing listens any more")
}

func TestRequireSkipsOrFails(t *testing.T) {
	if _, err := Binary(); err == nil {
		t.Skip("nginx is installed")
	}
	t.Setenv("CI", "")
	ran := t.Run("skips", func(t *testing.T) { Require(t) })
	assert.True(t, ran, "a skip is not a failure")
}
