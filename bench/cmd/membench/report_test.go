package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A run's results drawn again from their JSON give the same markdown and
// chart as the run itself.
func TestResultsDrawTheSameAfterAJSONRoundTrip(t *testing.T) {
	conn := func(c string, idle float64) childResult {
		return childResult{Args: childArgs{Client: c, Scenario: "conns"}, IdleHeap: idle, InflHeap: 2 * idle, Conns: 10}
	}
	churn := func(c string, cert string, cpu float64) childResult {
		return childResult{Args: childArgs{Client: c, Scenario: "churn", TLS: true, Cert: cert}, Done: 100, CPUPerReqUS: cpu, Handshakes: 100, Resumed: 100}
	}
	res := &results{
		Cmdline: "membench -x", Seconds: 12, Go: "go1.x", GOMAXPROCS: 2, CPUs: 2, Conns: 10, Churn: 100,
		HTTP: [][]childResult{
			{conn(cAsync, 1.3), conn(cAsync, 1.4), conn(cAsync, 1.2)},
			{conn(cNet, 21.4), conn(cNet, 21.4), conn(cNet, 21.5)},
			{conn(cFast, 1.3), conn(cFast, 1.3), conn(cFast, 1.2)},
		},
		ChurnRows: [][]childResult{
			{churn(cAsync, certSelf, 500), churn(cAsync, certSelf, 600)},
			{churn(cNet, certSelf, 700), churn(cNet, certSelf, 600)},
			{churn(cAsync, certRSA, 400), churn(cAsync, certRSA, 420)},
			{churn(cNet, certRSA, 1000), churn(cNet, certRSA, 1050)},
		},
	}
	md, svg := res.render()
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	var back results
	require.NoError(t, json.Unmarshal(raw, &back))
	md2, svg2 := back.render()
	require.Equal(t, md, md2)
	require.Equal(t, svg, svg2)

	require.Contains(t, md, "| asynchttp | 1.3 | 0.0 | 0.0 | **1.3** | 1.00 | 1.3, 1.4, 1.2 |", "the median round, every round beside it")
	require.NotContains(t, md, "### HTTPS", "scenarios not run are not drawn")
	require.NotContains(t, md, "### Crawl")
	// Churn ratios: each round against net/http's default with the same
	// certificate, then the median of the rounds.
	require.Contains(t, md, "| asynchttp | self-signed | default (the Client's own cache) | 200 | 600 | **1.00** | 0.71, 1.00 |")
	require.Contains(t, md, "| asynchttp | RSA chain | default (the Client's own cache) | 200 | 420 | **0.40** | 0.40, 0.40 |")
	require.Equal(t, 6+4, strings.Count(svg, "<title>"), "HTTP idle and in flight for 3 clients, churn for 2 clients on 2 certificates")
	// Each figure in its panel and group: the chart shows the tables' figures.
	for _, bar := range []string{
		"asynchttp, HTTP idle: 1.3 KiB", "net/http, HTTP in flight: 42.8 KiB", "fasthttp, HTTP idle: 1.3 KiB",
		"asynchttp, self-signed: 1.00 ×, median of the rounds&#39; ratios", "asynchttp, RSA chain: 0.40 ×, median of the rounds&#39; ratios",
	} {
		require.Contains(t, svg, "<title>"+bar+"</title>")
	}
}
