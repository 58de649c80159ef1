package chart

import "strconv"

// Point is one value of a Line chart, a share in percent (0 to 100) at one category of
// the x axis.
type Point struct {
	X     string  // category under the axis, e.g. "20:00"
	X2    string  // optional second line under X, e.g. "install"
	Value float64 // percent; values outside 0..100 are drawn at the edge
	Label string  // value label above the point; "" prints Value as "93.4%"
	Title string  // accessible name and tooltip of the point, e.g. the step's full label
}

// Line is a line chart of a share over ordered categories (the steps of a night) against
// an optional reference line (the benchmark). The y axis runs from 0% to 100%.
type Line struct {
	ID        string  // unique in the document: prefix of element IDs
	Title     string  // accessible title
	Desc      string  // accessible description (say what the chart shows in words)
	XAxis     string  // x axis title
	YAxis     string  // y axis title
	Series    string  // legend text of the line
	Points    []Point // in order
	Reference float64 // reference share in percent; 0 = none
	RefLabel  string  // legend and direct label of the reference line, e.g. "benchmark 80%"
	EndNote   string  // note at the last point, e.g. "run failed after this step"
	Empty     string  // message drawn instead of a line when there are no points
	Width     float64 // 0 = 920
	Height    float64 // 0 = 360
}

// SVG draws the chart.
func (c Line) SVG() string {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 920
	}
	if h <= 0 {
		h = 360
	}
	const left, right, top, bottom = 64.0, 20.0, 44.0, 86.0
	pw, ph := w-left-right, h-top-bottom
	if pw < 50 {
		pw = 50
	}
	if ph < 50 {
		ph = 50
	}
	y := func(v float64) float64 { return top + ph*(1-clamp(v, 0, 100)/100) }

	var s svg
	s.open(c.ID, w, h, c.Title, c.Desc)
	s.raw(`<g font-size="12" fill="`, Muted, `">`)
	// Horizontal grid and y labels every 20%.
	for v := 0; v <= 100; v += 20 {
		yy := y(float64(v))
		attrs := `stroke="` + Grid + `" stroke-width="1"`
		if v == 0 {
			attrs = `stroke="` + Muted + `" stroke-width="1.2"`
		}
		s.line(left, yy, left+pw, yy, attrs)
		s.text(left-8, yy+4, `text-anchor="end"`, strconv.Itoa(v)+"%")
	}
	s.line(left, top, left, top+ph, `stroke="`+Muted+`" stroke-width="1.2"`)
	// Axis titles.
	s.raw(`<text transform="translate(16 `, num(top+ph/2), `) rotate(-90)" text-anchor="middle" font-size="12.5">`, esc(c.YAxis), `</text>`)
	s.text(left+pw/2, h-10, `text-anchor="middle" font-size="12.5"`, c.XAxis)
	s.raw(`</g>`)

	// Legend, top left: a solid line with a marker for the series, a dashed line for the
	// reference. The two differ by line style, not only by colour.
	s.raw(`<g font-size="12.5" fill="`, Ink, `">`)
	s.line(left, 18, left+28, 18, `stroke="`+Blue+`" stroke-width="3"`)
	s.raw(`<circle cx="`, num(left+14), `" cy="18" r="4.5" fill="#fff" stroke="`, Blue, `" stroke-width="2.5"/>`)
	s.text(left+36, 22, ``, c.Series)
	if c.Reference > 0 {
		lx := left + 36 + float64(len(c.Series))*7 + 28
		s.line(lx, 18, lx+28, 18, `stroke="`+Vermillion+`" stroke-width="2.5" stroke-dasharray="7 4"`)
		s.text(lx+36, 22, ``, c.RefLabel)
	}
	s.raw(`</g>`)

	if len(c.Points) == 0 {
		msg := c.Empty
		if msg == "" {
			msg = "no data"
		}
		s.text(left+pw/2, top+ph/2, `text-anchor="middle" font-size="16" fill="`+Muted+`"`, msg)
		c.reference(&s, left, pw, y)
		s.close()
		return s.b.String()
	}

	slot := pw / float64(len(c.Points))
	x := func(i int) float64 { return left + slot*(float64(i)+0.5) }
	// Thin out labels when slots get narrow: every k-th point, always the last.
	every := 1
	for slot*float64(every) < 46 {
		every++
	}
	shown := func(i int) bool { return i%every == 0 || i == len(c.Points)-1 }

	// Area under the line, then the line, so the reference line stays on top of the area.
	var pts []byte
	for i, p := range c.Points {
		pts = append(pts, num(x(i))...)
		pts = append(pts, ',')
		pts = append(pts, num(y(p.Value))...)
		pts = append(pts, ' ')
	}
	area := "M" + num(x(0)) + "," + num(y(0))
	for i, p := range c.Points {
		area += " L" + num(x(i)) + "," + num(y(p.Value))
	}
	area += " L" + num(x(len(c.Points)-1)) + "," + num(y(0)) + " Z"
	s.raw(`<path d="`, area, `" fill="`, Blue, `" fill-opacity="0.10" stroke="none"/>`)
	c.reference(&s, left, pw, y)
	s.raw(`<polyline points="`, string(pts[:len(pts)-1]), `" fill="none" stroke="`, Blue,
		`" stroke-width="3" stroke-linejoin="round" stroke-linecap="round"/>`)

	// Points with value labels and x labels.
	chars := charsFit(slot*float64(every)-6, 11)
	for i, p := range c.Points {
		px, py := x(i), y(p.Value)
		s.raw(`<g>`)
		if p.Title != "" {
			s.raw(`<title>`, esc(p.Title), `</title>`)
		}
		s.raw(`<circle cx="`, num(px), `" cy="`, num(py), `" r="5" fill="#fff" stroke="`, Blue, `" stroke-width="2.5"/>`)
		label := p.Label
		if label == "" {
			label = Percent(p.Value)
		}
		if shown(i) {
			// The label sits above the point; when the line climbs to the next point it
			// moves to the upper left, clear of the rising segment.
			lx, anchor := px, "middle"
			if i+1 < len(c.Points) && c.Points[i+1].Value > p.Value+3 {
				lx, anchor = px-4, "end"
			}
			s.text(lx, py-12, `text-anchor="`+anchor+`" font-size="13" font-weight="700" fill="`+Ink+
				`" stroke="#fff" stroke-width="4" stroke-linejoin="round" paint-order="stroke"`, label)
			s.text(px, top+ph+18, `text-anchor="middle" font-size="12" font-weight="600" fill="`+Ink+`"`, truncate(p.X, chars))
			for k, l := range wrap(p.X2, chars, 2) {
				s.text(px, top+ph+33+13*float64(k), `text-anchor="middle" font-size="11" fill="`+Muted+`"`, l)
			}
		}
		s.raw(`</g>`)
	}
	if c.EndNote != "" {
		// A dotted line through the last point, explained at the right end of the legend
		// row, where it cannot cover a value.
		px := x(len(c.Points) - 1)
		s.line(px, top-4, px, top+ph, `stroke="`+Ink+`" stroke-width="1.5" stroke-dasharray="2 3"`)
		s.text(left+pw, 22, `text-anchor="end" font-size="12.5" font-weight="700" fill="`+Ink+`"`, "┆ "+c.EndNote)
	}
	s.close()
	return s.b.String()
}

// reference draws the dashed reference line with its direct label at the right end.
func (c Line) reference(s *svg, left, pw float64, y func(float64) float64) {
	if c.Reference <= 0 {
		return
	}
	ry := y(c.Reference)
	s.line(left, ry, left+pw, ry, `stroke="`+Vermillion+`" stroke-width="2.5" stroke-dasharray="7 4"`)
	// Direct label on the line's left end, where a night's share is still low.
	s.text(left+8, ry-7, `font-size="12.5" font-weight="700" fill="`+Ink+
		`" stroke="#fff" stroke-width="4" stroke-linejoin="round" paint-order="stroke"`, c.RefLabel)
}
