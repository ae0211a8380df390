// asynchttp demo: a small run against its own servers keeps the caps and
// reports every host role; bad flags are usage errors.

package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemoSmall(t *testing.T) {
	start := time.Now()
	code, out, errOut := runTool(t, "demo", "-pages", "4", "-think", "5ms", "-slow", "50ms", "-total", "6", "-per-host", "2")
	require.Equal(t, exitOK, code, "stderr: %s\nstdout: %s", errOut, out)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Empty(t, errOut, "no status line when stderr is not a terminal")

	header, rows := tableRows(t, out)
	want := append([]string{"host", "role"}, tableHeader[1:]...)
	assert.Equal(t, want, header)
	assert.Len(t, rows, 16+1, "16 hosts and the total")
	roles := map[string]int{}
	for key, f := range rows {
		if key == "total" {
			continue
		}
		require.GreaterOrEqual(t, len(f), len(header), "row %v", f)
		role := f[1]
		if role == "slow" || role == "closes" || role == "conn:" {
			role = f[1] + " " + f[2] // two-word roles
			f = append(f[:1], f[2:]...)
		}
		roles[role]++
		switch role {
		case roleDown:
			assert.Contains(t, strings.Join(f, " "), "refused×", "the down host's errors")
			assert.Equal(t, "0", f[3], "no page from the down host")
		case role503:
			assert.Contains(t, strings.Join(f, " "), "http 503×")
			assert.NotEqual(t, "0", f[11], "its 503s were retried after Retry-After: %v", f)
		case roleConnClose:
			assert.Contains(t, strings.Join(f, " "), "not reusable", "the pool's close reason, per host")
		default:
			ok, err := strconv.Atoi(f[3])
			require.NoError(t, err)
			assert.GreaterOrEqual(t, ok, 4, "every page of %s (%s) was fetched: %v", key, role, f)
			assert.Equal(t, f[2], f[3], "and all went well: %v", f)
		}
		peak, err := strconv.Atoi(f[5])
		require.NoError(t, err)
		assert.LessOrEqual(t, peak, 2, "per-host cap, client side: %v", f)
	}
	assert.Equal(t, map[string]int{roleOK: 10, roleSlow: 2, roleIdleClose: 1, roleConnClose: 1, role503: 1, roleDown: 1}, roles)

	// The caps, counted by the servers.
	var total, perHost int
	_, err := fmt.Sscanf(out[strings.Index(out, "servers saw"):], "servers saw at most %d connections open at once, at most %d to one host", &total, &perHost)
	require.NoError(t, err)
	assert.LessOrEqual(t, total, 6)
	assert.LessOrEqual(t, perHost, 2)
	assert.Contains(t, out, "closed ")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(lines), 2)
	assert.True(t, strings.HasPrefix(lines[len(lines)-2], "try next:"), "ends with what to try next: %q", lines[len(lines)-2])
}

func TestDemoBadFlags(t *testing.T) {
	code, _, errOut := runTool(t, "demo", "-hosts", "3")
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	code, _, errOut = runTool(t, "-nope")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "flag provided but not defined: -nope")
}
