package output

import (
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// minColumn is the narrowest a long column is wrapped to.
const minColumn = 8

// fit returns g with its long cells wrapped so that the ASCII table of g is at
// most width columns wide ("| a | b |" costs 3 columns per cell plus 1). When the natural
// widths fit, g is returned as it is. Otherwise only long columns are wrapped: those
// wider than a quarter of the width (a message, a path, a list of names); short columns
// (names, states, numbers, dates) keep their width, so a table of many short columns is
// left wider than width rather than broken into fragments. The long columns share what
// the short ones leave, the widest giving up width first, none narrower than the
// quarter. tablewriter's own wrapping is not used: with a table width it splits the width
// evenly and ignores it when wrapping at words, and with column widths it truncates a
// word longer than its column (a path, an error text without spaces).
func fit(g Grid, width int) Grid {
	if width <= 0 {
		return g
	}
	n := len(g.Header)
	if n == 0 {
		return g
	}
	natural := make([]int, n)
	measure := func(row []string) {
		for i, c := range row {
			if i < n {
				for l := range strings.SplitSeq(c, "\n") {
					natural[i] = max(natural[i], twwidth.Width(l))
				}
			}
		}
	}
	measure(g.Header)
	for _, r := range g.Rows {
		measure(r)
	}
	measure(g.Footer)
	out := g // the title is a line of prose above the table: not wrapped
	budget := width - 3*n - 1
	total := 0
	for _, w := range natural {
		total += w
	}
	if total <= budget {
		return out
	}
	limits := columnLimits(natural, budget, max(minColumn, width/4))
	wrapRow := func(row []string) []string {
		if row == nil {
			return nil
		}
		r := make([]string, len(row))
		for i, c := range row {
			r[i] = c
			if i < n && limits[i] < natural[i] {
				r[i] = wrapText(c, limits[i])
			}
		}
		return r
	}
	out.Header = wrapRow(g.Header)
	out.Footer = wrapRow(g.Footer)
	out.Rows = make([][]string, len(g.Rows))
	for i, r := range g.Rows {
		out.Rows[i] = wrapRow(r)
	}
	return out
}

// columnLimits gives the columns no wider than long their natural width, and the others
// min(natural, limit) with the highest limit (at least long) whose sum fits budget; what
// is left over goes to the capped columns, left to right.
func columnLimits(natural []int, budget, long int) []int {
	out := make([]int, len(natural))
	avail := budget
	widest := 0
	for i, w := range natural {
		if w <= long {
			out[i] = w
			avail -= w
		}
		widest = max(widest, w)
	}
	sum := func(limit int) int {
		s := 0
		for _, w := range natural {
			if w > long {
				s += min(w, limit)
			}
		}
		return s
	}
	limit := widest
	for limit > long && sum(limit) > avail {
		limit--
	}
	used := 0
	for i, w := range natural {
		if w > long {
			out[i] = min(w, limit)
			used += out[i]
		}
	}
	for i, w := range natural {
		if extra := min(avail-used, w-out[i]); w > long && extra > 0 {
			out[i] += extra
			used += extra
		}
	}
	return out
}

// wrapText wraps s at spaces so that no line is wider than width columns; a word wider
// than width is broken. Line breaks in s are kept.
func wrapText(s string, width int) string {
	if width <= 0 || twwidth.Width(s) <= width && !strings.Contains(s, "\n") {
		return s
	}
	var lines []string
	for para := range strings.SplitSeq(s, "\n") {
		line, lw := "", 0
		flush := func() {
			lines = append(lines, line)
			line, lw = "", 0
		}
		for _, word := range strings.Fields(para) {
			ww := twwidth.Width(word)
			switch {
			case lw > 0 && lw+1+ww <= width:
				line += " " + word
				lw += 1 + ww
				continue
			case lw > 0:
				flush()
			}
			for ww > width { // a word longer than the line: break it
				head, hw := cut(word, width)
				lines = append(lines, head)
				word = word[len(head):]
				ww -= hw
			}
			line, lw = word, ww
		}
		flush()
	}
	return strings.Join(lines, "\n")
}

// cut returns the longest prefix of s at most width columns wide (at least one rune)
// and its width.
func cut(s string, width int) (string, int) {
	w := 0
	for i, r := range s {
		rw := twwidth.Width(string(r))
		if w+rw > width && i > 0 {
			return s[:i], w
		}
		w += rw
	}
	return s, w
}
