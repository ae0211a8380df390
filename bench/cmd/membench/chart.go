package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A chart is panels of grouped bars, one bar per client in each group,
// drawn as an SVG beside MEMORY.md (memory.svg). The report adds a bar
// for every default row it prints, so the chart shows the tables' figures.
type chart struct {
	panels []*panel
}

type panel struct {
	title, unit string
	groups      []string
	vals        map[string]map[string]float64 // group → client → value
}

var chartColors = map[string]string{cAsync: "#1d4ed8", cNet: "#f59e0b", cFast: "#059669"}

// add sets the bar of client c in group g of the panel titled title (made
// on first use, in the order of first use).
func (ch *chart) add(title, unit, g, c string, v float64) {
	var p *panel
	for _, q := range ch.panels {
		if q.title == title {
			p = q
		}
	}
	if p == nil {
		p = &panel{title: title, unit: unit, vals: map[string]map[string]float64{}}
		ch.panels = append(ch.panels, p)
	}
	if p.vals[g] == nil {
		p.groups = append(p.groups, g)
		p.vals[g] = map[string]float64{}
	}
	p.vals[g][c] = v
}

// svg draws every panel stacked, each on its own linear scale from zero;
// each bar is labelled with its value. subtitle says how it was measured.
func (ch *chart) svg(title, subtitle string) string {
	const (
		W, left, right = 960, 56, 16
		panelH, gap    = 220, 78
		top            = 78
	)
	H := top + len(ch.panels)*(panelH+gap)
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	w(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	w(`<text x="%d" y="22" font-size="16" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	w(`<text x="%d" y="40" fill="#444">%s</text>`+"\n", left, html.EscapeString(subtitle))
	x := left
	for _, c := range clients {
		w(`<rect x="%d" y="50" width="12" height="12" fill="%s"/><text x="%d" y="60">%s</text>`+"\n", x, chartColors[c], x+16, html.EscapeString(c))
		x += 40 + 8*len(c)
	}
	for i, p := range ch.panels {
		y0 := top + 24 + i*(panelH+gap)
		maxv := 0.0
		for _, g := range p.groups {
			for _, v := range p.vals[g] {
				maxv = math.Max(maxv, v)
			}
		}
		// Two decimals for a panel of small figures (ratios), one else.
		label := num
		if maxv < 5 {
			label = func(v float64) string { return fmt.Sprintf("%.2f", v) }
		}
		step := niceStep(maxv)
		ceil := math.Max(step, math.Ceil(maxv/step)*step)
		if maxv > 0.92*ceil { // room above the tallest bar for its label
			ceil += step
		}
		maxv = ceil
		yOf := func(v float64) float64 { return float64(y0+panelH) - v/maxv*float64(panelH) }
		w(`<text x="%d" y="%d" font-weight="bold">%s <tspan font-weight="normal" fill="#444">(%s, lower is better)</tspan></text>`+"\n", left, y0-10, html.EscapeString(p.title), html.EscapeString(p.unit))
		for v := 0.0; v <= maxv+step/2; v += step {
			y := yOf(v)
			w(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e7eb"/>`+"\n", left, y, W-right, y)
			w(`<text x="%d" y="%.1f" text-anchor="end" fill="#444">%s</text>`+"\n", left-6, y+4, gridNum(v, step))
		}
		gw := float64(W-left-right) / float64(len(p.groups))
		bw := (gw - 24) / float64(len(clients))
		for j, g := range p.groups {
			gx := float64(left) + float64(j)*gw + 12
			for k, c := range clients {
				v, ok := p.vals[g][c]
				if !ok {
					continue
				}
				bx, y := gx+float64(k)*bw, yOf(math.Max(v, 0))
				w(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %s %s</title></rect>`+"\n",
					bx, y, bw-3, float64(y0+panelH)-y, chartColors[c], html.EscapeString(c), html.EscapeString(g), label(v), html.EscapeString(p.unit))
				w(`<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`+"\n", bx+(bw-3)/2, y-4, label(v))
			}
			w(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", gx+(gw-24)/2, y0+panelH+18, html.EscapeString(g))
		}
		w(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#111"/>`+"\n", left, y0+panelH, W-right, y0+panelH)
	}
	w("</svg>\n")
	return b.String()
}

// niceStep is a grid step of 1, 2 or 5 times a power of ten that splits
// [0, max] into 3 to 8 lines.
func niceStep(max float64) float64 {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(max)))
	for _, m := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10} {
		if s := m * p; max/s <= 8 {
			return s
		}
	}
	return 10 * p
}

// gridNum prints a grid line's value: whole numbers for whole steps.
func gridNum(v, step float64) string {
	if step >= 1 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// num prints a value with one decimal below 100 and none above.
func num(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
