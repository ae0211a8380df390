// Classifying errors into the report's kinds.

package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
)

func TestErrKind(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{context.Canceled, "canceled"},
		{&asynchttp.TimeoutError{Op: "acquire", Err: asynchttp.ErrTooManyConns}, "acquire timeout"},
		{asynchttp.ErrTooManyConns, "pool full"},
		{asynchttp.ErrTooManyPending, "too many pending"},
		{fmt.Errorf("asynchttp: dial: %w", syscall.ECONNREFUSED), "refused"},
		{&asynchttp.TimeoutError{Op: "response header", Err: context.DeadlineExceeded}, "timeout"},
		{asynchttp.ErrServerClosedConn, "server closed"},
		{&asynchttp.ProtocolError{What: "status line"}, "malformed"},
		{&asynchttp.LimitError{Limit: "MaxResponseBodyBytes", Max: 1}, "too large"},
		{&asynchttp.RequestError{Field: "URL", Reason: "x"}, "bad request"},
		{errors.New("something else"), "other"},
	} {
		assert.Equal(t, tt.want, errKind(tt.err), "%v", tt.err)
	}
	assert.Equal(t, "", kindOf(200, asynchttp.ErrAborted), "an abort on purpose is no error")
	assert.Equal(t, "http 503", kindOf(503, nil))
	assert.Equal(t, "", kindOf(301, nil))
}
