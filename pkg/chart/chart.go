// Package chart draws patchnight's report charts as small, self-contained inline SVG: a
// line chart of a share over ordered steps against a reference line, and horizontal bars.
// The SVG needs no script, font file or external resource. Every text is escaped here, so
// the result is safe to embed in HTML as is.
//
// The charts must stay readable when printed in grey: series differ by line style and
// pattern as well as colour, and every value carries a direct label. Colours come from the
// Okabe-Ito palette, which stays distinct for the common colour-vision deficiencies; no
// meaning rests on red against green.
package chart

import (
	"html"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Okabe-Ito colours (Okabe & Ito, "Color Universal Design"), plus the neutral greys the
// charts use for axes, grid and tracks.
const (
	Blue       = "#0072B2"
	Orange     = "#E69F00"
	SkyBlue    = "#56B4E9"
	Vermillion = "#D55E00"
	Green      = "#009E73"
	Purple     = "#CC79A7"
	Ink        = "#1F2328" // text
	Muted      = "#57606A" // secondary text, axes
	Grid       = "#D0D7DE" // grid lines
	Track      = "#EEF1F4" // bar background
)

// num formats a coordinate for an SVG attribute with at most one decimal. NaN and
// infinities, which would make the SVG invalid, become 0.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	v = math.Round(v*10) / 10
	if v == 0 {
		return "0" // also turns -0 into 0
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// clamp limits v to [lo, hi]; NaN becomes lo.
func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) || v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// esc escapes text for an SVG text node or attribute value. Invalid UTF-8 and control
// characters, which XML does not allow, are replaced first, so the SVG stays well-formed
// whatever a database returned.
func esc(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7F || r == 0xFFFE || r == 0xFFFF {
			return '\uFFFD'
		}
		return r
	}, s)
	return html.EscapeString(s)
}

// truncate shortens s to at most max characters, ending with "…" when cut.
func truncate(s string, max int) string {
	if max < 2 {
		max = 2
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + "…"
}

// charsFit estimates how many characters of a proportional sans-serif font of size px fit
// in width (the average glyph is about 0.56 em wide).
func charsFit(width, px float64) int {
	if px <= 0 {
		return 0
	}
	return int(width / (px * 0.56))
}

// Percent formats a share for a chart label: "93.4%".
func Percent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

// svg is a small writer for SVG elements.
type svg struct{ b strings.Builder }

func (s *svg) raw(parts ...string) {
	for _, p := range parts {
		s.b.WriteString(p)
	}
}

// open starts the root element with an accessible title and description.
func (s *svg) open(id string, w, h float64, title, desc string) {
	s.raw(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 `, num(w), " ", num(h),
		`" width="`, num(w), `" height="`, num(h), `" aria-labelledby="`, esc(id), `-title `, esc(id), `-desc">`)
	s.raw(`<title id="`, esc(id), `-title">`, esc(title), `</title>`)
	s.raw(`<desc id="`, esc(id), `-desc">`, esc(desc), `</desc>`)
}

func (s *svg) close() { s.raw(`</svg>`) }

func (s *svg) line(x1, y1, x2, y2 float64, attrs string) {
	s.raw(`<line x1="`, num(x1), `" y1="`, num(y1), `" x2="`, num(x2), `" y2="`, num(y2), `" `, attrs, `/>`)
}

func (s *svg) rect(x, y, w, h float64, attrs string) {
	if w < 0 {
		w = 0
	}
	if h < 0 {
		h = 0
	}
	s.raw(`<rect x="`, num(x), `" y="`, num(y), `" width="`, num(w), `" height="`, num(h), `" `, attrs, `/>`)
}

// text writes an escaped text element; attrs are trusted constant attributes.
func (s *svg) text(x, y float64, attrs, t string) {
	s.raw(`<text x="`, num(x), `" y="`, num(y), `" `, attrs, `>`, esc(t), `</text>`)
}

// wrap breaks s into at most lines lines of at most width characters at spaces; a word
// longer than a line, or text left over after the last line, is cut with "…".
func wrap(s string, width, lines int) []string {
	var out []string
	cur := ""
	words := strings.Fields(s)
	for i, w := range words {
		switch {
		case cur == "":
			cur = w
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(w) <= width:
			cur += " " + w
		default:
			out = append(out, truncate(cur, width))
			cur = w
		}
		if len(out) == lines-1 && i < len(words)-1 && cur != "" {
			// Last line: put the rest on it and cut.
			cur = strings.Join(append([]string{cur}, words[i+1:]...), " ")
			break
		}
	}
	if cur != "" {
		out = append(out, truncate(cur, width))
	}
	return out
}
