// A Server inside a testing/synctest bubble, with a fake clock.

package asynchttptest_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttptest"
)

// In-memory connections block on channels and timers only, so a Server
// runs inside a synctest bubble: timeouts are tested on its fake clock in
// no real time, and the bubble's end proves that Close left no goroutine
// behind.
func TestServerSynctest(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  asynchttp.Config
		wait time.Duration // fake time between the two requests
		why  asynchttp.CloseReason
	}{
		{"idle timeout", asynchttp.Config{IdleTimeout: time.Minute}, 2 * time.Minute, asynchttp.CloseIdleTimeout},
		{"lifetime", asynchttp.Config{MaxConnLifetime: time.Hour, IdleTimeout: -1}, 2 * time.Hour, asynchttp.CloseLifetime},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := asynchttptest.NewServer(http.HandlerFunc(hello))
				defer srv.Close()
				c := srv.Client(tt.cfg)

				_, _, err := get(context.Background(), c, srv.URL())
				require.NoError(t, err)
				time.Sleep(tt.wait)
				synctest.Wait()
				_, body, err := get(context.Background(), c, srv.URL())
				require.NoError(t, err)
				assert.Equal(t, "hello", body)

				st := c.Stats()
				assert.EqualValues(t, 1, st.ClosedBy[tt.why], "%v", st.ClosedBy)
				assert.EqualValues(t, 2, st.Created)
				assert.Equal(t, 2, srv.Conns())
			})
		})
	}
}

func TestServerSynctestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := asynchttptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		defer srv.Close()
		c := srv.Client(asynchttp.Config{})

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		_, _, err := get(ctx, c, srv.URL())
		var te *asynchttp.TimeoutError
		require.ErrorAs(t, err, &te)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Hour, time.Since(start), "the fake clock moved exactly to the deadline")
	})
}
