package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// doctorLike is a result shaped like doctor's table: short columns and one long message.
type doctorLike struct {
	Title string
	Rows  [][]string
}

func (d doctorLike) Grids() []Grid {
	return []Grid{{Title: d.Title, Header: []string{"Check", "Status", "Message"}, Rows: d.Rows,
		Footer: []string{"Total", "3", ""}}}
}

func (d doctorLike) MarshalJSON() ([]byte, error) { return json.Marshal(d.Rows) }

// TestTableWraps: a table with a 300-character cell never prints a line wider than the
// width it is given (or the default width when the writer is not a terminal); nothing of
// the cell is lost; CSV, Markdown and JSON keep the cell on one line.
func TestTableWraps(t *testing.T) {
	t.Parallel()
	words := strings.TrimSpace(strings.Repeat("the SMS Provider refused the login of LAB\\patchnight ", 6))[:300]
	solid := strings.Repeat("C:\\ProgramData\\patchnight\\state\\", 10)[:300]
	mixed := "query v_UpdateCIs: " + strings.Repeat("x", 150) + " then " + strings.Repeat("y", 125)
	for _, tc := range []struct {
		name  string
		cell  string
		width int
	}{
		{"words at the default width", words, DefaultWidth},
		{"no spaces at the default width", solid, DefaultWidth},
		{"long words at the default width", mixed, DefaultWidth},
		{"words on an 80-column terminal", words, 80},
		{"no spaces on a 40-column terminal", solid, 40},
		{"words on a wide terminal", words, 200},
		{"unicode", strings.Repeat("Überprüfung fehlgeschlagen ", 12)[:300], 72},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := doctorLike{
				Title: "Doctor of site LAB",
				Rows:  [][]string{{"sql", "ok", "SQL Server 16.0"}, {"query", "fail", tc.cell}, {"provider", "warn", "short"}},
			}
			var b bytes.Buffer
			if err := WriteWidth(&b, Table, v, tc.width); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
				if w := twwidth.Width(l); w > tc.width {
					t.Errorf("a %d-column line, width %d:\n%s", w, tc.width, out)
					break
				}
			}
			// Nothing lost: the message column, read top to bottom, is the cell.
			if got, want := messageColumn(out, "query"), strings.Join(strings.Fields(tc.cell), ""); got != want {
				t.Errorf("the wrapped cell reads\n%q, want\n%q\n%s", got, want, out)
			}
			if !strings.Contains(out, "| sql ") || !strings.Contains(out, "| Total ") {
				t.Errorf("rows or footer lost:\n%s", out)
			}
			for _, f := range []Format{CSV, Markdown, JSON} {
				var b bytes.Buffer
				if err := WriteWidth(&b, f, v, tc.width); err != nil {
					t.Fatal(err)
				}
				if cell := strings.ReplaceAll(tc.cell, `\`, `\\`); !strings.Contains(b.String(), tc.cell) &&
					!(f == JSON && strings.Contains(b.String(), cell)) {
					t.Errorf("%s wraps the long cell:\n%s", f, b.String())
				}
			}
		})
	}
}

// TestTableNotWrappedWhenItFits: a table narrower than the width is printed as before.
func TestTableNotWrappedWhenItFits(t *testing.T) {
	t.Parallel()
	v := doctorLike{Title: "Doctor", Rows: [][]string{{"sql", "ok", "fine words here"}}}
	var a, b bytes.Buffer
	if err := WriteWidth(&a, Table, v, DefaultWidth); err != nil {
		t.Fatal(err)
	}
	if err := WriteWidth(&b, Table, v, 0); err != nil { // 0: no limit
		t.Fatal(err)
	}
	if a.String() != b.String() || strings.Count(a.String(), "\n") != 8 {
		t.Errorf("a narrow table changed:\n%s\n%s", a.String(), b.String())
	}
	var w bytes.Buffer
	if Width(&w) != DefaultWidth {
		t.Errorf("Width of a buffer is %d, want %d", Width(&w), DefaultWidth)
	}
}

// messageColumn joins, without spaces, the third column of the lines from the row whose
// first cell is first up to the next row separator or row.
func messageColumn(out, first string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(out, "\n") {
		cells := strings.Split(l, "|")
		if len(cells) < 5 {
			if in {
				break
			}
			continue
		}
		name := strings.TrimSpace(cells[1])
		if in && name != "" {
			break
		}
		if name == first {
			in = true
		}
		if in {
			b.WriteString(strings.Join(strings.Fields(cells[3]), ""))
		}
	}
	return b.String()
}
