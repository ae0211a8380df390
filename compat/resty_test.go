package compat

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/stretchr/testify/require"
)

// restySite serves the pages the resty tests use.
func restySite(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusFound) })
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusMovedPermanently) })
	mux.HandleFunc("/c", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "landed on c") })
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t", Path: "/"})
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "no cookie", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, c.Value)
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f, fh, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		_, _ = io.WriteString(w, r.FormValue("name")+"|"+fh.Filename+"|"+string(b))
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			_, _ = io.WriteString(w, "plain: compressed text")
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = io.WriteString(zw, "compressed text")
		_ = zw.Close()
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(waitTimeout):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func newResty(t *testing.T, rt http.RoundTripper) *resty.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return resty.NewWithClient(&http.Client{Transport: rt, Jar: jar})
}

func TestRestyOverTransport(t *testing.T) {
	srv := restySite(t)
	eachTransport(t, func(t *testing.T, tr transport) {
		c := newResty(t, tr.make(t, nil))
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()

		// Redirects are followed to the final page.
		t.Run("redirects", func(t *testing.T) {
			resp, err := c.R().SetContext(ctx).Get(srv.URL + "/a")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode())
			require.Equal(t, "landed on c", resp.String())
			require.Equal(t, "/c", resp.RawResponse.Request.URL.Path)
		})
		// A cookie set by one response goes back on the next request.
		t.Run("cookies", func(t *testing.T) {
			resp, err := c.R().SetContext(ctx).Get(srv.URL + "/set")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode())
			resp, err = c.R().SetContext(ctx).Get(srv.URL + "/get")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), resp.String())
			require.Equal(t, "s3cr3t", resp.String())
		})
		// A multipart upload with a form field and a file.
		t.Run("multipart", func(t *testing.T) {
			resp, err := c.R().SetContext(ctx).
				SetFormData(map[string]string{"name": "report"}).
				SetFileReader("file", "a.txt", strings.NewReader("file contents")).
				Post(srv.URL + "/upload")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), resp.String())
			require.Equal(t, "report|a.txt|file contents", resp.String())
		})
		// A gzip response body reaches the caller decoded.
		t.Run("gzip", func(t *testing.T) {
			resp, err := c.R().SetContext(ctx).Get(srv.URL + "/gzip")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode())
			require.Equal(t, "compressed text", resp.String())
		})
		// A client timeout ends a request the server never answers with a
		// timeout error.
		t.Run("timeout", func(t *testing.T) {
			tc := newResty(t, tr.make(t, nil)).SetTimeout(100 * time.Millisecond)
			_, err := tc.R().SetContext(ctx).Get(srv.URL + "/slow")
			require.Error(t, err)
			var te interface{ Timeout() bool }
			require.True(t, errors.As(err, &te), "error %T %v has no Timeout method", err, err)
			require.True(t, te.Timeout(), "error %v is not a timeout", err)
		})
	})
}
