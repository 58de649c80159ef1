package output

import (
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// minColumn is the narrowest a column is wrapped to (or its natural width, if less).
const minColumn = 8

// fit returns g with its title and cells wrapped so that the ASCII table of g is at most
// width columns wide: "| a | b |" costs 3 columns per cell plus 1. When the natural widths
// fit, g is returned as it is. Otherwise the widest columns give up width first: every
// column keeps min(natural, limit), with limit as high as the width allows, and never
// less than minColumn. tablewriter's own wrapping is not used: with a table width it
// splits the width evenly and ignores it when wrapping at words, and with column widths
// it truncates a word longer than its column (a path, an error text without spaces).
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
	out := g
	out.Title = wrapText(g.Title, width)
	budget := width - 3*n - 1
	total := 0
	for _, w := range natural {
		total += w
	}
	if total <= budget {
		return out
	}
	limits := columnLimits(natural, budget)
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

// columnLimits gives each column min(natural, limit), with the highest limit whose sum
// fits budget, then hands what is left over to the capped columns, left to right. No
// column gets less than min(natural, minColumn), even when the budget is smaller.
func columnLimits(natural []int, budget int) []int {
	floor := func(w int) int { return min(w, minColumn) }
	sum := func(limit int) int {
		s := 0
		for _, w := range natural {
			s += max(min(w, limit), floor(w))
		}
		return s
	}
	limit := 0
	for _, w := range natural {
		limit = max(limit, w)
	}
	for limit > minColumn && sum(limit) > budget {
		limit--
	}
	out := make([]int, len(natural))
	used := 0
	for i, w := range natural {
		out[i] = max(min(w, limit), floor(w))
		used += out[i]
	}
	for i, w := range natural {
		if extra := min(budget-used, w-out[i]); extra > 0 {
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
