package chart

import (
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// svgDoc is what checkSVG learned from a chart.
type svgDoc struct {
	texts    []string          // character data of every <text>, in order
	elements map[string]int    // element name → count
	root     map[string]string // attributes of the root <svg>
}

// numericAttrs are the attributes that must hold finite numbers.
var numericAttrs = map[string]bool{"x": true, "y": true, "x1": true, "y1": true, "x2": true, "y2": true,
	"width": true, "height": true, "cx": true, "cy": true, "r": true, "font-size": true, "stroke-width": true}

// checkSVG parses s strictly as XML and fails on malformed markup, a NaN or infinity in any
// attribute, or a numeric attribute that is not a finite number.
func checkSVG(t testing.TB, s string) svgDoc {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	doc := svgDoc{elements: map[string]int{}}
	depth := 0
	inText := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, s)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if tok.Name.Local != "svg" {
					t.Fatalf("root element is %s", tok.Name.Local)
				}
				doc.root = map[string]string{}
				for _, a := range tok.Attr {
					doc.root[a.Name.Local] = a.Value
				}
			}
			depth++
			doc.elements[tok.Name.Local]++
			for _, a := range tok.Attr {
				if strings.Contains(a.Value, "NaN") || strings.Contains(a.Value, "Inf") {
					t.Errorf("<%s %s=%q> holds a NaN or infinity", tok.Name.Local, a.Name.Local, a.Value)
				}
				if numericAttrs[a.Name.Local] {
					if v, err := strconv.ParseFloat(a.Value, 64); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
						t.Errorf("<%s %s=%q> is not a finite number", tok.Name.Local, a.Name.Local, a.Value)
					}
				}
			}
			if tok.Name.Local == "text" {
				inText = true
				doc.texts = append(doc.texts, "")
			}
		case xml.EndElement:
			depth--
			if tok.Name.Local == "text" {
				inText = false
			}
		case xml.CharData:
			if inText {
				doc.texts[len(doc.texts)-1] += string(tok)
			}
		}
	}
	if doc.elements["title"] == 0 || doc.elements["desc"] == 0 {
		t.Errorf("SVG lacks an accessible <title> or <desc>")
	}
	return doc
}

func (d svgDoc) hasText(s string) bool {
	for _, t := range d.texts {
		if t == s {
			return true
		}
	}
	return false
}

func TestLineDrawsPointsLabelsAndBenchmark(t *testing.T) {
	t.Parallel()
	c := Line{ID: "burn", Title: "Burn-down", Desc: "desc", XAxis: "Step", YAxis: "Patched %", Series: "patched",
		Reference: 80, RefLabel: "benchmark 80%",
		Points: []Point{{X: "before", Value: 2.4}, {X: "20:00", X2: "install + restart", Value: 59.7},
			{X: "09:30", X2: "scan", Value: 93.4, Title: "09:30 scan + morning report"}}}
	d := checkSVG(t, c.SVG())
	for _, want := range []string{"2.4%", "59.7%", "93.4%", "before", "20:00", "install + restart", "09:30",
		"benchmark 80%", "Step", "Patched %", "0%", "20%", "80%", "100%"} {
		if !d.hasText(want) {
			t.Errorf("chart lacks the text %q; texts: %q", want, d.texts)
		}
	}
	if d.elements["circle"] != 4 { // three points and the legend marker
		t.Errorf("%d circles, want 4", d.elements["circle"])
	}
	if d.elements["polyline"] != 1 {
		t.Errorf("%d polylines, want 1", d.elements["polyline"])
	}
	if d.root["role"] != "img" || d.root["viewBox"] == "" || d.root["aria-labelledby"] != "burn-title burn-desc" {
		t.Errorf("root attributes %v", d.root)
	}
	if !strings.Contains(c.SVG(), `stroke-dasharray="7 4"`) {
		t.Error("the benchmark line is not dashed: it must differ from the series by line style, not colour alone")
	}
}

func TestLineEdgeCases(t *testing.T) {
	t.Parallel()
	nan, inf := math.NaN(), math.Inf(1)
	many := make([]Point, 120)
	for i := range many {
		many[i] = Point{X: strconv.Itoa(i), Value: float64(i)}
	}
	cases := []struct {
		name string
		line Line
		want []string // texts that must be drawn
		not  []string // texts that must not be drawn
	}{
		{"no points", Line{ID: "a", Empty: "No steps recorded", Reference: 80, RefLabel: "benchmark 80%"},
			[]string{"No steps recorded", "benchmark 80%"}, nil},
		{"no points, no message", Line{ID: "b"}, []string{"no data"}, nil},
		{"NaN, infinities and out of range", Line{ID: "c", Points: []Point{{X: "a", Value: nan}, {X: "b", Value: inf},
			{X: "c", Value: -5}, {X: "d", Value: 250}, {X: "e", Value: math.Inf(-1)}}},
			[]string{"-", "-5.0%", "250.0%"}, []string{"NaN%", "+Inf%"}},
		{"one point", Line{ID: "d", Points: []Point{{X: "x", Value: 50, Label: "half"}}}, []string{"half"}, nil},
		{"failed run", Line{ID: "e", EndNote: "run failed after this step", Points: []Point{{X: "a", Value: 1}, {X: "b", Value: 70}}},
			[]string{"┆ run failed after this step"}, nil},
		{"120 points thin their labels", Line{ID: "f", Points: many}, []string{"0", "119", "119.0%"}, []string{"1", "1.0%"}},
		{"tiny size", Line{ID: "g", Width: 10, Height: 10, Points: []Point{{X: "a", Value: 1}}}, []string{"a"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := checkSVG(t, tc.line.SVG())
			for _, w := range tc.want {
				if !d.hasText(w) {
					t.Errorf("lacks %q; texts: %q", w, d.texts)
				}
			}
			for _, w := range tc.not {
				if d.hasText(w) {
					t.Errorf("draws %q", w)
				}
			}
		})
	}
}

func TestBars(t *testing.T) {
	t.Parallel()
	c := Bars{ID: "upd", Title: "By update", Desc: "d", Percent: true, Reference: 80, RefLabel: "benchmark 80%",
		Axis: "% compliant", Bars: []Bar{{Label: "KB5071234", Sub: "2026-12 Cumulative Update", Value: 94.4},
			{Label: "KB890830", Value: 100, Text: "100.0% · done"}}}
	d := checkSVG(t, c.SVG())
	for _, want := range []string{"KB5071234", "2026-12 Cumulative Update", "94.4%", "100.0% · done", "benchmark 80%", "% compliant", "0%", "100%"} {
		if !d.hasText(want) {
			t.Errorf("lacks %q; texts: %q", want, d.texts)
		}
	}
	// Track and bar per row.
	if d.elements["rect"] != 4 {
		t.Errorf("%d rects, want 4", d.elements["rect"])
	}

	hatched := Bars{ID: "stop", Style: Hatched, Bars: []Bar{{Label: "never woke", Value: 31}, {Label: "offline", Value: 0}}}
	s := hatched.SVG()
	d = checkSVG(t, s)
	if d.elements["pattern"] != 1 || !strings.Contains(s, `fill="url(#stop-hatch)"`) {
		t.Error("hatched bars do not use their pattern")
	}
	if !d.hasText("31") || !d.hasText("0") {
		t.Errorf("count labels missing: %q", d.texts)
	}
}

func TestBarsEdgeCases(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		bars Bars
		want string
	}{
		{"empty", Bars{ID: "a", Empty: "Nothing stopped any machine"}, "Nothing stopped any machine"},
		{"all zero counts", Bars{ID: "b", Bars: []Bar{{Label: "x", Value: 0}}}, "0"},
		{"NaN and infinity", Bars{ID: "c", Percent: true, Bars: []Bar{{Label: "x", Value: math.NaN()}, {Label: "y", Value: math.Inf(1)}}}, "-"},
		{"negative", Bars{ID: "d", Bars: []Bar{{Label: "x", Value: -4}, {Label: "y", Value: 2}}}, "-4"},
		{"narrow", Bars{ID: "e", Width: 20, LabelWidth: 500, Bars: []Bar{{Label: "x", Value: 1}}}, "x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := checkSVG(t, tc.bars.SVG())
			if !d.hasText(tc.want) {
				t.Errorf("lacks %q; texts: %q", tc.want, d.texts)
			}
		})
	}
}

// TestTextIsEscaped feeds markup, quotes, invalid UTF-8 and control characters through
// every text field: the SVG must stay well-formed and carry them as text only.
func TestTextIsEscaped(t *testing.T) {
	t.Parallel()
	const bad = `<script>alert("x")</script> & 'q'`
	const broken = "bad\xff\x00\x01byte"
	line := Line{ID: `"><script>`, Title: bad, Desc: bad, XAxis: bad, YAxis: bad, Series: bad, RefLabel: bad, Reference: 50,
		EndNote: bad, Points: []Point{{X: bad, X2: broken, Label: bad, Title: bad, Value: 10}}}
	bars := Bars{ID: bad, Title: bad, Desc: bad, Axis: bad, Percent: true, Reference: 50, RefLabel: bad, Style: Hatched,
		Bars: []Bar{{Label: bad, Sub: broken, Text: bad, Title: bad, Value: 5}}}
	for _, s := range []string{line.SVG(), bars.SVG()} {
		if strings.Contains(strings.ToLower(s), "<script") {
			t.Fatalf("markup leaked into the SVG:\n%s", s)
		}
		d := checkSVG(t, s)
		found := false
		for _, tx := range d.texts {
			if strings.Contains(tx, `<script>alert("x")</script>`) {
				found = true
			}
		}
		if !found {
			t.Errorf("the escaped text does not read back as the original: %q", d.texts)
		}
	}
}

func TestWrapAndTruncate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		width int
		want  []string
	}{
		{"check deployments", 11, []string{"check", "deployments"}},
		{"install + restart", 11, []string{"install +", "restart"}},
		{"scan + morning report", 11, []string{"scan +", "morning re…"}},
		{"scan", 11, []string{"scan"}},
		{"", 11, nil},
		{"supercalifragilistic", 8, []string{"superca…"}},
		{"a b c d e f g h", 3, []string{"a b", "c…"}},
	}
	for _, tc := range cases {
		got := wrap(tc.in, tc.width, 2)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
	if got := truncate("héllo wörld", 6); got != "héllo…" {
		t.Errorf("truncate = %q", got)
	}
	if got := truncate("abc", 0); got != "a…" {
		t.Errorf("truncate to 0 = %q", got)
	}
}

func TestNum(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0", -0.01: "0", 1.25: "1.3", 100: "100", 12.04: "12",
		math.NaN(): "0", math.Inf(1): "0", math.Inf(-1): "0", -3.5: "-3.5"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
}

// FuzzBars checks that any label and value gives a well-formed SVG without NaN.
func FuzzBars(f *testing.F) {
	f.Add("KB5071234", "2026-12 Cumulative Update", 94.4, false)
	f.Add("<b>&amp;</b>", "\xff\x00", math.NaN(), true)
	f.Fuzz(func(t *testing.T, label, sub string, v float64, percent bool) {
		b := Bars{ID: "f", Percent: percent, Reference: 80, RefLabel: label, Bars: []Bar{{Label: label, Sub: sub, Value: v, Title: sub}}}
		checkSVG(t, b.SVG())
		l := Line{ID: "f", Series: label, Points: []Point{{X: label, X2: sub, Value: v, Title: sub}}, EndNote: sub}
		checkSVG(t, l.SVG())
	})
}
