// The command line itself: help for each command, unknown commands.

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"demo", "get", "crawl", "bench"} {
		t.Run(cmd, func(t *testing.T) {
			code, out, errOut := runTool(t, cmd, "-h")
			assert.Equal(t, exitOK, code)
			assert.Empty(t, errOut)
			assert.Contains(t, out, "Usage: asynchttp")
			for _, f := range []string{"-max-total-conns", "-max-conns-per-host", "-idle-timeout", "-max-conn-lifetime", "-acquire-timeout", "Config.MaxTotalConns"} {
				assert.Contains(t, out, f)
			}
		})
	}
	code, out, _ := runTool(t, "help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "asynchttp crawl")
	code, _, errOut := runTool(t, "frob")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `unknown command "frob"`)
}
