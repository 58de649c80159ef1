package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
)

type sample struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func (s sample) Grids() []Grid {
	return []Grid{{Title: "Sample", Header: []string{"Name", "Count"}, Numeric: []bool{false, true},
		Rows: [][]string{{s.Name, "7"}, {"b|c", "12"}}, Footer: []string{"Total", "19"}}}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	v := sample{Name: `a "quoted", name`, Count: 7}
	tests := []struct {
		format Format
		check  func(t *testing.T, out string)
	}{
		{Table, func(t *testing.T, out string) {
			if !strings.Contains(out, "Sample\n+") || !strings.Contains(out, "| Total") || strings.ContainsAny(out, "─│┌") {
				t.Errorf("not an ASCII table with a title and a total:\n%s", out)
			}
			if !strings.Contains(out, "|     7 |") && !strings.Contains(out, "|    7 |") && !strings.Contains(out, "| 7 |") {
				t.Errorf("numbers not right-aligned:\n%s", out)
			}
		}},
		{JSON, func(t *testing.T, out string) {
			var back sample
			if err := json.Unmarshal([]byte(out), &back); err != nil || back != v {
				t.Errorf("JSON round trip: %+v, %v", back, err)
			}
		}},
		{CSV, func(t *testing.T, out string) {
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(recs) != 4 || recs[1][0] != v.Name || recs[3][0] != "Total" {
				t.Errorf("CSV: %q, %v", recs, err)
			}
		}},
		{Markdown, func(t *testing.T, out string) {
			if !strings.Contains(out, "**Sample**") || !strings.Contains(out, `b\|c`) {
				t.Errorf("Markdown without title or escaped pipe:\n%s", out)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := Write(&b, tc.format, v); err != nil {
				t.Fatal(err)
			}
			tc.check(t, b.String())
		})
	}
	if err := Write(&bytes.Buffer{}, HTML, v); exit.Code(err) != exit.Usage {
		t.Errorf("html through Write: %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"table", "JSON", "csv", "md", "html"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseFormat("xml"); exit.Code(err) != exit.Usage {
		t.Errorf("xml accepted: %v", err)
	}
	if Percent(1, 3) != "33.3%" || Percent(1, 0) != "-" {
		t.Error(Percent(1, 3), Percent(1, 0))
	}
}
