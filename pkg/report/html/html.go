// Package html renders patchnight's morning, compliance and follow-up reports as one
// self-contained HTML document: inline CSS and inline SVG charts, no script, no font or image from
// anywhere, so the file works offline, as an e-mail attachment and on paper (A4). Names and
// titles from the site database are escaped by html/template; the charts come from package
// chart, which escapes its own text.
package html

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"math"
	"strconv"
)

// Limits keep the document small and quick to open for large fleets. What is cut is
// counted ("and 1,234 more") and the full lists are in the CSV form of the same report.
const (
	NeedsPersonLimit = 500  // machines listed in "needs a person"
	LocationTop      = 15   // locations beside the stopped chart (the least patched)
	LocationLimit    = 300  // rows of the full location table under Details
	UpdateChartLimit = 40   // bars in a compliance-by-update chart (the least compliant first)
	UpdateTableLimit = 1000 // rows of the compliance report's update table
	StepTableLimit   = 200  // rows of the burn-down table
)

//go:embed templates/*.tmpl
var files embed.FS

// cssText is the inline style sheet shared by both documents.
//
//go:embed templates/report.css
var cssText string

// templates are parsed once; html/template executes concurrently without changing them.
var templates = htmltemplate.Must(htmltemplate.New("report").ParseFS(files, "templates/*.tmpl"))

// errNoReport is returned for a nil report.
var errNoReport = errors.New("no report to render")

// execute renders the named template into memory first, so that w receives either the
// whole document or nothing.
func execute(w io.Writer, name string, data any) error {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s html: %w", name, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write %s html: %w", name, err)
	}
	return nil
}

// barStyle is the inline CSS of a small table bar of share pct (clamped to 0..100). It is
// built from a number only, never from report text.
func barStyle(pct float64) htmltemplate.CSS {
	if math.IsNaN(pct) || pct < 0 {
		pct = 0
	}
	if pct > 100 {
		pct = 100
	}
	return htmltemplate.CSS("width:" + strconv.FormatFloat(math.Round(pct*10)/10, 'f', -1, 64) + "%")
}

// kv is a labelled figure in the headline.
type kv struct {
	Label, Value, Note string
}

// banner is a notice above the report (a run that failed or is still running).
type banner struct {
	Kind, Head, Text string
}

// more is the line under a capped list.
type more struct {
	Count int    // rows left out
	What  string // "machines", "locations"
	Where string // where the full list is
}
