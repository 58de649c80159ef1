// Package output renders command results as an aligned ASCII table (for consoles and log
// files), JSON, CSV or Markdown. A result implements Tabular for the table forms and is
// marshalled as itself for JSON, so JSON keeps types and structure.
package output

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"golang.org/x/term"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Format is an output format.
type Format string

// Formats.
const (
	Table    Format = "table"
	JSON     Format = "json"
	CSV      Format = "csv"
	Markdown Format = "md"
	HTML     Format = "html"
)

// ParseFormat validates a --output value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Table, JSON, CSV, Markdown, HTML:
		return f, nil
	}
	return "", exit.Usagef("use table, json, csv or md", "--output %q is not a format", s)
}

// Grid is a rectangular result: a header and rows of cells, plus an optional footer
// (a total line).
type Grid struct {
	Title   string     // optional caption, printed above the table forms
	Header  []string   // column names
	Rows    [][]string // cells, one slice per row
	Footer  []string   // optional total line
	Numeric []bool     // columns aligned right; may be shorter than Header
}

// Tabular is a result that can be shown as one or more grids.
type Tabular interface {
	Grids() []Grid
}

// DefaultWidth is the width tables are wrapped to when w is not a terminal (a pipe, a log
// file, a test buffer).
const DefaultWidth = 100

// Write renders v in format f. JSON marshals v itself (indented); the other forms render
// v.Grids(). The table form is wrapped to Width(w); CSV, Markdown and JSON never wrap.
func Write(w io.Writer, f Format, v Tabular) error {
	return WriteWidth(w, f, v, Width(w))
}

// Width is the width to wrap tables to on w: the terminal's width when w is a terminal
// whose size is known, else DefaultWidth.
func Width(w io.Writer) int {
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		fd := int(f.Fd())
		if term.IsTerminal(fd) {
			if cols, _, err := term.GetSize(fd); err == nil && cols > 0 {
				return cols
			}
		}
	}
	return DefaultWidth
}

// WriteWidth is Write with the table form wrapped to width columns: cells are wrapped at
// spaces (a word longer than its column is broken) so that no line is wider than width,
// as long as each column can keep minColumn characters.
func WriteWidth(w io.Writer, f Format, v Tabular, width int) error {
	switch f {
	case JSON:
		return WriteJSON(w, v)
	case CSV:
		cw := csv.NewWriter(w)
		for i, g := range v.Grids() {
			if i > 0 {
				cw.Write(nil)
			}
			if err := cw.Write(g.Header); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
			if err := cw.WriteAll(g.Rows); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
			if len(g.Footer) > 0 {
				cw.Write(g.Footer)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		return nil
	case Markdown:
		for i, g := range v.Grids() {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if g.Title != "" {
				fmt.Fprintf(w, "**%s**\n\n", mdEscape(g.Title))
			}
			if err := render(w, g, renderer.NewMarkdown()); err != nil {
				return err
			}
		}
		return nil
	case Table, "":
		for i, g := range v.Grids() {
			if i > 0 {
				fmt.Fprintln(w)
			}
			g = fit(g, width)
			if g.Title != "" {
				fmt.Fprintln(w, g.Title)
			}
			r := renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})
			if err := render(w, g, r); err != nil {
				return err
			}
		}
		return nil
	}
	return exit.Usagef("use table, json, csv or md", "this command cannot write %s", f)
}

// WriteJSON writes v as one indented JSON document.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;").Replace(s)
}

func render(w io.Writer, g Grid, r tw.Renderer) error {
	align := make([]tw.Align, len(g.Header))
	for i := range align {
		align[i] = tw.AlignLeft
		if i < len(g.Numeric) && g.Numeric[i] {
			align[i] = tw.AlignRight
		}
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(r),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithFooterAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
	t.Header(anySlice(g.Header)...)
	rows := g.Rows
	if _, ok := r.(*renderer.Markdown); ok {
		rows = make([][]string, len(g.Rows))
		for i, row := range g.Rows {
			rows[i] = make([]string, len(row))
			for j, c := range row {
				rows[i][j] = strings.ReplaceAll(c, "|", `\|`)
			}
		}
	}
	if err := t.Bulk(rows); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if len(g.Footer) > 0 {
		t.Footer(anySlice(g.Footer)...)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	return nil
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// Percent formats a share as "97.3%"; a zero denominator gives "-".
func Percent(num, den int64) string {
	if den == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(num)/float64(den))
}
