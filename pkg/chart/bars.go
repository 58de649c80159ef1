package chart

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Bar is one row of a Bars chart.
type Bar struct {
	Label string  // row label, e.g. "KB5071234"
	Sub   string  // optional second line under the label, e.g. the update's title
	Value float64 // bar length in the chart's unit
	Text  string  // value label at the bar's end; "" prints Value
	Title string  // accessible name and tooltip of the row
}

// Style is how bars are filled.
type Style int

// Bar styles. Solid and Hatched differ in grey-scale as well as in colour.
const (
	Solid   Style = iota // Okabe-Ito blue, solid: a good share (patched, compliant)
	Hatched              // Okabe-Ito vermillion with diagonal hatching: a count of trouble
)

// Bars is a horizontal bar chart with a label column on the left and the value written at
// the end of each bar.
type Bars struct {
	ID         string  // unique in the document: prefix of element IDs
	Title      string  // accessible title
	Desc       string  // accessible description
	Bars       []Bar   // top to bottom
	Percent    bool    // values are shares: scale 0..100 with a labelled % axis
	Max        float64 // scale maximum when not Percent; 0 = the largest value
	Reference  float64 // reference share (Percent only); 0 = none
	RefLabel   string  // label of the reference line, e.g. "benchmark 80%"
	Axis       string  // axis title under the bars
	Style      Style
	LabelWidth float64 // width of the label column; 0 = 260
	Width      float64 // 0 = 920
	Empty      string  // message when there are no bars
}

// SVG draws the chart.
func (c Bars) SVG() string {
	w := c.Width
	if w <= 0 {
		w = 920
	}
	lw := c.LabelWidth
	if lw <= 0 {
		lw = 260
	}
	rowH := 30.0
	for _, b := range c.Bars {
		if b.Sub != "" {
			rowH = 40
			break
		}
	}
	// The right margin holds the value labels written after the bars.
	right := 60.0
	for _, b := range c.Bars {
		if r := float64(utf8.RuneCountInString(c.valueText(b)))*7.6 + 14; r > right {
			right = r
		}
	}
	right = math.Min(right, w/3)
	top := 12.0
	if c.Percent && c.Reference > 0 {
		top = 30
	}
	bottom := 12.0
	if c.Percent {
		bottom = 46
	}
	if len(c.Bars) == 0 {
		// No axis and no scale for nothing: only the message.
		msg := c.Empty
		if msg == "" {
			msg = "no data"
		}
		var s svg
		s.open(c.ID, w, 32, c.Title, c.Desc)
		s.text(0, 21, `font-size="14" font-style="italic" fill="`+Muted+`"`, msg)
		s.close()
		return s.b.String()
	}
	rows := len(c.Bars)
	h := top + float64(rows)*rowH + bottom
	x0, pw := lw+12, w-lw-12-right
	if pw < 50 {
		pw = 50
	}
	max := c.Max
	if c.Percent {
		max = 100
	}
	if max <= 0 {
		for _, b := range c.Bars {
			if !math.IsNaN(b.Value) && !math.IsInf(b.Value, 0) && b.Value > max {
				max = b.Value
			}
		}
	}
	scale := func(v float64) float64 {
		if max <= 0 {
			return 0
		}
		return pw * clamp(v, 0, max) / max
	}

	var s svg
	s.open(c.ID, w, h, c.Title, c.Desc)
	fill := Blue
	if c.Style == Hatched {
		// Hatching makes the bars recognisable in grey-scale and for colour-blind readers.
		fill = "url(#" + esc(c.ID) + "-hatch)"
		s.raw(`<defs><pattern id="`, esc(c.ID), `-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">`,
			`<rect width="6" height="6" fill="`, Vermillion, `"/>`,
			`<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2.2" stroke-opacity="0.55"/></pattern></defs>`)
	}
	if c.Percent {
		s.raw(`<g font-size="11.5" fill="`, Muted, `">`)
		for v := 0; v <= 100; v += 20 {
			xx := x0 + scale(float64(v))
			s.line(xx, top-4, xx, top+float64(rows)*rowH, `stroke="`+Grid+`" stroke-width="1"`)
			s.text(xx, top+float64(rows)*rowH+16, `text-anchor="middle"`, strconv.Itoa(v)+"%")
		}
		if c.Axis != "" {
			s.text(x0+pw/2, h-8, `text-anchor="middle" font-size="12"`, c.Axis)
		}
		s.raw(`</g>`)
	}
	barH := 16.0
	chars := charsFit(lw, 12.5)
	subChars := charsFit(lw, 11)
	for i, b := range c.Bars {
		y := top + float64(i)*rowH
		s.raw(`<g>`)
		if b.Title != "" {
			s.raw(`<title>`, esc(b.Title), `</title>`)
		}
		by := y + (rowH-barH)/2
		ly := by + barH/2 + 4.5
		if b.Sub != "" {
			s.text(0, y+16, `font-size="12.5" font-weight="600" fill="`+Ink+`"`, truncate(b.Label, chars))
			s.text(0, y+31, `font-size="11" fill="`+Muted+`"`, truncate(b.Sub, subChars))
		} else {
			s.text(0, ly, `font-size="12.5" fill="`+Ink+`"`, truncate(b.Label, chars))
		}
		s.rect(x0, by, pw, barH, `fill="`+Track+`"`)
		bw := scale(b.Value)
		s.rect(x0, by, bw, barH, `fill="`+fill+`"`)
		t := c.valueText(b)
		s.text(x0+bw+6, ly, `font-size="12.5" font-weight="700" fill="`+Ink+
			`" stroke="#fff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"`, t)
		s.raw(`</g>`)
	}
	if c.Percent && c.Reference > 0 {
		rx := x0 + scale(c.Reference)
		s.line(rx, top-6, rx, top+float64(rows)*rowH, `stroke="`+Vermillion+`" stroke-width="2" stroke-dasharray="6 4"`)
		s.text(rx, top-10, `text-anchor="middle" font-size="11.5" font-weight="700" fill="`+Ink+`"`, c.RefLabel)
	}
	s.close()
	return s.b.String()
}

// valueText is the label written after bar b.
func (c Bars) valueText(b Bar) string {
	switch {
	case b.Text != "":
		return b.Text
	case c.Percent:
		return Percent(b.Value)
	}
	return strconv.FormatFloat(clamp(b.Value, -1e15, 1e15), 'f', -1, 64)
}
