package html_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/internal/browsertest"
	"github.com/patchnight/patchnight/pkg/report"
	phtml "github.com/patchnight/patchnight/pkg/report/html"
)

// screenshotEnv names the file to copy the sample report's screenshot to, relative to the
// repository root: PATCHNIGHT_WRITE_SCREENSHOT=docs/morning-report.png go test -run Browser ./pkg/report/html
const screenshotEnv = "PATCHNIGHT_WRITE_SCREENSHOT"

// The browser test renders reports in a real headless Chromium: a screenshot (PNG), a print
// to PDF (A4 via the document's @page rule) and a dump of the DOM after layout. CI installs
// Debian's chromium; a developer without it gets a failing test that says how to install it,
// or passes -short to leave it out.

// repoRoot is the directory holding go.mod above the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = up
	}
}

func writeFile(t *testing.T, path string, render func(*os.File) error) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := render(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserMorningReport(t *testing.T) {
	bin, ok := browsertest.Need(t)
	if !ok {
		return
	}
	dir := t.TempDir()
	b := browsertest.Browser{Bin: bin, Dir: dir}
	m := sampleMorning(t)
	page := filepath.Join(dir, "morning.html")
	writeFile(t, page, func(f *os.File) error { return phtml.Morning(f, m) })

	shot := filepath.Join(dir, "morning.png")
	b.Run(t, page, "--screenshot="+shot)
	browsertest.CheckPNG(t, shot)

	pdf := filepath.Join(dir, "morning.pdf")
	b.Run(t, page, "--no-pdf-header-footer", "--print-to-pdf="+pdf)
	browsertest.CheckPDF(t, pdf)

	dom, _ := b.Run(t, page, "--dump-dom")
	root := parse(t, dom)
	want := report.HeadlinePercent(m)
	if got := text(byID(root, "headline-percent")); got != want {
		t.Errorf("rendered headline percentage = %q, want %q (the text report's)", got, want)
	}
	if !strings.Contains(text(root), report.Headline(m)) {
		t.Errorf("rendered page lacks the text report's headline %q", report.Headline(m))
	}
	if n := len(elements(root, "svg")); n != 3 {
		t.Errorf("rendered page has %d svg charts, want 3", n)
	}

	if dst := os.Getenv(screenshotEnv); dst != "" {
		if !filepath.IsAbs(dst) {
			dst = filepath.Join(repoRoot(t), dst)
		}
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatalf("write the screenshot: %v", err)
		}
		t.Logf("wrote %s (%d bytes)", dst, len(data))
	}
}

// TestBrowserEdgeCases loads the awkward documents in the browser: hostile names must stay
// text (no script element, no console message), and the empty and failed nights must
// render their notices.
func TestBrowserEdgeCases(t *testing.T) {
	bin, ok := browsertest.Need(t)
	if !ok {
		return
	}
	dir := t.TempDir()
	b := browsertest.Browser{Bin: bin, Dir: dir}
	cases := []struct {
		name   string
		render func(*os.File) error
		want   []string
	}{
		{"hostile", func(f *os.File) error { return phtml.Morning(f, hostileMorning(t)) }, []string{hostile}},
		{"empty", func(f *os.File) error { return phtml.Morning(f, emptyMorning()) },
			[]string{report.NoEligible, "No steps recorded in the journal for this run"}},
		{"failed", func(f *os.File) error { return phtml.Morning(f, failedMorning(t)) },
			[]string{"This run failed.", "run failed after this step"}},
		{"compliance", func(f *os.File) error { return phtml.Compliance(f, sampleCompliance()) }, []string{phtml.CompliancePercent(sampleCompliance())}},
	}
	for _, tc := range cases {
		page := filepath.Join(dir, tc.name+".html")
		writeFile(t, page, tc.render)
		dom, _ := b.Run(t, page, "--dump-dom")
		root := parse(t, dom)
		if s := elements(root, "script"); len(s) > 0 {
			t.Errorf("%s: the rendered DOM has %d script elements", tc.name, len(s))
		}
		body := text(root)
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: rendered text lacks %q", tc.name, w)
			}
		}
	}
}

// TestBrowserPlan checks when the browser test runs, fails or is left out.
func TestBrowserPlan(t *testing.T) {
	cases := []struct {
		name      string
		bin       string
		short     bool
		ci        string
		run       bool
		fails     bool
		logsSkips bool
	}{
		{"browser found", "/usr/bin/chromium", false, "", true, false, false},
		{"browser found, -short", "/usr/bin/chromium", true, "", true, false, false},
		{"no browser on a developer machine", "", false, "", false, true, false},
		{"no browser, -short on a developer machine", "", true, "", false, false, true},
		{"no browser in CI", "", false, "true", false, true, false},
		{"no browser in CI, even with -short", "", true, "1", false, true, false},
	}
	for _, tc := range cases {
		run, fail, log := browsertest.Plan(tc.bin, "no Chromium found", tc.short, tc.ci)
		if run != tc.run || (fail != "") != tc.fails || (log != "") != tc.logsSkips {
			t.Errorf("%s: run=%v fail=%q log=%q", tc.name, run, fail, log)
		}
		if fail != "" && !strings.Contains(fail, "apt-get install -y chromium") {
			t.Errorf("%s: the failure does not say how to install Chromium: %q", tc.name, fail)
		}
	}

	t.Setenv("PATCHNIGHT_CHROMIUM", filepath.Join(t.TempDir(), "no-such-chrome"))
	if bin, why := browsertest.Find(); bin != "" || !strings.Contains(why, "PATCHNIGHT_CHROMIUM=") {
		t.Errorf("browsertest.Find() = %q, %q for a missing override", bin, why)
	}
	exe := filepath.Join(t.TempDir(), "chrome")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATCHNIGHT_CHROMIUM", exe)
	if bin, _ := browsertest.Find(); bin != exe {
		t.Errorf("browsertest.Find() = %q, want the override %q", bin, exe)
	}
}
