package main

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// svgRect is a bar (or the background) of the chart, as parsed back.
type svgRect struct {
	Fill   string  `xml:"fill,attr"`
	Height string  `xml:"height,attr"`
	Y      string  `xml:"y,attr"`
	Title  string  `xml:"title"`
	X      float64 `xml:"x,attr"`
}

func parseBars(t *testing.T, svg string) []svgRect {
	t.Helper()
	var doc struct {
		Rects []svgRect `xml:"rect"`
	}
	require.NoError(t, xml.Unmarshal([]byte(svg), &doc), "the chart is well-formed XML")
	var bars []svgRect
	for _, r := range doc.Rects {
		if r.Title != "" {
			bars = append(bars, r)
		}
	}
	return bars
}

func TestChartDrawsABarPerFigureToScale(t *testing.T) {
	var ch chart
	ch.add("Per connection", "KiB", "HTTP idle", cAsync, 1.4)
	ch.add("Per connection", "KiB", "HTTP idle", cNet, 21.4)
	ch.add("Per connection", "KiB", "HTTP idle", cFast, 1.3)
	ch.add("Per connection", "KiB", "HTTPS idle", cAsync, 10.5)
	ch.add("Per connection", "KiB", "HTTPS idle", cFast, 10.1) // no net/http bar here
	ch.add("Crawls <heap>", "MiB", "100000 hosts: peak", cNet, 51.3)
	ch.add("Crawls <heap>", "MiB", "100000 hosts: peak", cAsync, 10.5)
	svg := ch.svg("title & more", "sub")

	bars := parseBars(t, svg)
	require.Len(t, bars, 7)
	require.Contains(t, bars[0].Title, "asynchttp, HTTP idle: 1.4 KiB")
	require.Equal(t, chartColors[cAsync], bars[0].Fill)
	require.Equal(t, chartColors[cNet], bars[1].Fill)
	require.Contains(t, bars[4].Title, "fasthttp, HTTPS idle: 10.1")
	// A group's missing client leaves its slot empty: fasthttp's bar sits
	// two slots after asynchttp's, as in the first group.
	require.InDelta(t, bars[2].X-bars[0].X, bars[4].X-bars[3].X, 0.01)

	// Within a panel heights are proportional to the values (scale from 0).
	h := func(r svgRect) float64 {
		v, err := strconv.ParseFloat(r.Height, 64)
		require.NoError(t, err)
		return v
	}
	require.InDelta(t, 21.4/1.4, h(bars[1])/h(bars[0]), 0.05)
	require.InDelta(t, 10.5/10.1, h(bars[3])/h(bars[4]), 0.01)
	// Each panel has its own scale, from 0 to its maximum rounded up to
	// its grid: 21.4 on a grid of 5 gives 25; 51.3 on a grid of 10, 60.
	require.InDelta(t, 51.3/60, h(bars[6])/220, 0.01)
	require.InDelta(t, 10.5/60, h(bars[5])/220, 0.01)
	require.Contains(t, bars[5].Title, "asynchttp", "bars follow the clients' order, not the order added")
	require.InDelta(t, 21.4/25, h(bars[1])/220, 0.01)

	require.Contains(t, svg, "title &amp; more", "text is escaped")
	require.Contains(t, svg, "Crawls &lt;heap&gt;")
	require.Equal(t, 2, strings.Count(svg, "lower is better"), "one heading per panel")
}

func TestChartLeavesRoomAboveTheTallestBar(t *testing.T) {
	var ch chart
	ch.add("p", "u", "g", cAsync, 24.5) // grid of 5: 25 would leave no room for its label
	bars := parseBars(t, ch.svg("t", "s"))
	require.Len(t, bars, 1)
	h, err := strconv.ParseFloat(bars[0].Height, 64)
	require.NoError(t, err)
	require.InDelta(t, 24.5/30, h/220, 0.01)
}

func TestChartWithNothingIsStillAnSVG(t *testing.T) {
	var ch chart
	require.Empty(t, parseBars(t, ch.svg("t", "s")))
	ch.add("p", "u", "g", cAsync, 0)
	bars := parseBars(t, ch.svg("t", "s"))
	require.Len(t, bars, 1)
	require.Equal(t, "0.0", bars[0].Height)
}

func TestNiceStepSplitsTheRangeIntoAFewLines(t *testing.T) {
	for _, tt := range []struct{ max, step float64 }{
		{21.4, 5}, {51.3, 10}, {1.4, 0.2}, {835, 200}, {10, 2}, {0, 1}, {-3, 1},
	} {
		s := niceStep(tt.max)
		require.InDelta(t, tt.step, s, 1e-9, "max %v", tt.max)
		if tt.max > 0 {
			require.LessOrEqual(t, tt.max/s, 8.0)
			require.GreaterOrEqual(t, tt.max/s, 2.0)
		}
	}
	require.Equal(t, "835", num(835.2))
	require.Equal(t, "20", gridNum(20, 5))
	require.Equal(t, "0.4", gridNum(0.4, 0.2))
	require.Equal(t, "10.5", num(10.46))
}
