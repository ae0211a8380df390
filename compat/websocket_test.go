package compat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// echoServer is a real WebSocket server echoing every message back.
func echoServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// wsEcho dials url with an http.Client over rt and checks a few echoes.
func wsEcho(t *testing.T, ctx context.Context, url string, rt http.RoundTripper) {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: rt}})
	require.NoError(t, err)
	defer c.CloseNow()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	for _, m := range []string{"hello", "", "third message"} {
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(m)))
		typ, got, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageText, typ)
		require.Equal(t, m, string(got))
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "done"))
}

// coder/websocket's Dial goes through DialOptions.HTTPClient and needs the
// 101 body to be a writable stream.
func TestWebSocketDialThroughHTTPClientEchoes(t *testing.T) {
	srv := echoServer(t)
	eachTransport(t, func(t *testing.T, tr transport) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		wsEcho(t, ctx, srv.URL, tr.make(t, nil))
	})
}
