package html_test

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/report"
	phtml "github.com/patchnight/patchnight/pkg/report/html"
)

// The browser test renders reports in a real headless Chromium: a screenshot (PNG), a print
// to PDF (A4 via the document's @page rule) and a dump of the DOM after layout. CI installs
// Debian's chromium; a developer without it gets a failing test that says how to install it,
// or passes -short to leave it out.

const installHint = "headless Chromium is needed for this test: install it with `sudo apt-get install -y chromium` " +
	"(Debian/Ubuntu) or point PATCHNIGHT_CHROMIUM at a Chromium or Chrome binary; " +
	"`go test -short` leaves the browser test out on a developer machine (never in CI)"

// screenshotEnv names the file to copy the sample report's screenshot to, relative to the
// repository root: PATCHNIGHT_WRITE_SCREENSHOT=docs/morning-report.png go test -run Browser ./pkg/report/html
const screenshotEnv = "PATCHNIGHT_WRITE_SCREENSHOT"

// findChromium returns the browser binary, or "" and why there is none.
func findChromium() (string, string) {
	if p := os.Getenv("PATCHNIGHT_CHROMIUM"); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", "PATCHNIGHT_CHROMIUM=" + p + " is not an executable file"
		}
		return p, ""
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, ""
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", "no Chromium found (looked for /usr/bin/chromium, chromium-browser and google-chrome on PATH)"
}

// browserPlan decides what the browser test does: run, or fail with a message, or (only
// with -short outside CI) log that it did not run.
func browserPlan(bin, why string, short bool, ci string) (run bool, fail, log string) {
	switch {
	case bin != "":
		return true, "", ""
	case short && ci == "":
		return false, "", "the browser test did not run (-short): " + why + "; " + installHint
	}
	return false, why + "; " + installHint, ""
}

// needChromium returns the browser, or ends the test: it fails without a browser unless
// -short is given outside CI, the one way to leave the browser test out.
func needChromium(t *testing.T) (string, bool) {
	t.Helper()
	bin, why := findChromium()
	run, fail, log := browserPlan(bin, why, testing.Short(), os.Getenv("CI"))
	if fail != "" {
		t.Fatal(fail)
	}
	if log != "" {
		t.Log(log)
	}
	return bin, run
}

// browser runs headless Chromium on one file.
type browser struct {
	bin string
	dir string // scratch directory for profiles and outputs
}

// run runs Chromium with the mode flag (--screenshot=..., --print-to-pdf=..., --dump-dom)
// on page and returns stdout and stderr. Every run gets a fresh profile, and all network
// features that would call out are off; the page is a local file.
func (b browser) run(t *testing.T, page string, mode ...string) (stdout, stderr []byte) {
	t.Helper()
	// A guard against a hung browser, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	profile, err := os.MkdirTemp(b.dir, "profile-")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
		"--force-device-scale-factor=1", "--user-data-dir=" + profile,
		"--enable-logging=stderr", "--v=0", "--window-size=1200,2400",
	}
	args = append(args, mode...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, b.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+profile) // keep the browser's caches out of the real home
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(mode, " "), err, tail(errb.String(), 30))
	}
	checkConsole(t, errb.String())
	return out.Bytes(), errb.Bytes()
}

// checkConsole fails on any console message of the page: the report has no script, so any
// console line (an uncaught error, a blocked resource) is a fault.
func checkConsole(t *testing.T, stderr string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") ||
			strings.Contains(line, "Content Security Policy") {
			t.Errorf("console message from the page: %s", line)
		}
	}
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// checkPNG decodes a screenshot and asserts that something was drawn: enough non-white
// pixels, more than a handful of colours, and a luminance variance well above a flat page.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot was not written: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	bounds := img.Bounds()
	if bounds.Dx() < 800 || bounds.Dy() < 800 {
		t.Fatalf("screenshot is %v, want the 1200×2400 window", bounds.Size())
	}
	st := pixelStats(img)
	if st.inked < 0.02 {
		t.Errorf("screenshot is nearly blank: %.2f%% of pixels differ from the background", 100*st.inked)
	}
	if st.colours < 16 {
		t.Errorf("screenshot has %d colours, want a rendered page", st.colours)
	}
	if st.variance < 100 {
		t.Errorf("screenshot luminance variance is %.1f, want a rendered page", st.variance)
	}
}

type stats struct {
	inked    float64 // share of pixels far from the most common colour
	colours  int
	variance float64 // of 8-bit luminance
}

func pixelStats(img image.Image) stats {
	b := img.Bounds()
	counts := map[[3]uint8]int{}
	var sum, sum2 float64
	var total int
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}
			counts[c]++
			l := 0.2126*float64(c[0]) + 0.7152*float64(c[1]) + 0.0722*float64(c[2])
			sum += l
			sum2 += l * l
			total++
		}
	}
	var bg [3]uint8
	most := 0
	for c, n := range counts {
		if n > most {
			bg, most = c, n
		}
	}
	far := 0
	for c, n := range counts {
		d := absDiff(c[0], bg[0]) + absDiff(c[1], bg[1]) + absDiff(c[2], bg[2])
		if d > 60 {
			far += n
		}
	}
	mean := sum / float64(total)
	return stats{inked: float64(far) / float64(total), colours: len(counts), variance: sum2/float64(total) - mean*mean}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// checkPDF asserts that a PDF was written.
func checkPDF(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pdf was not written: %v", err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF")) {
		t.Fatalf("pdf does not start with %%PDF: %q", b[:min(len(b), 16)])
	}
	if len(b) < 5000 {
		t.Errorf("pdf is only %d bytes", len(b))
	}
	// Every page is A4 (595 × 842 points), from the document's @page rule.
	boxes := regexp.MustCompile(`/MediaBox \[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]`).FindAllSubmatch(b, -1)
	if len(boxes) == 0 {
		t.Error("pdf has no page with a MediaBox")
	}
	for _, m := range boxes {
		w, _ := strconv.ParseFloat(string(m[1]), 64)
		h, _ := strconv.ParseFloat(string(m[2]), 64)
		if math.Abs(w-595.3) > 2 || math.Abs(h-841.9) > 2 {
			t.Errorf("pdf page is %.1f × %.1f points, want A4 (595 × 842)", w, h)
		}
	}
}

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
	bin, ok := needChromium(t)
	if !ok {
		return
	}
	dir := t.TempDir()
	b := browser{bin: bin, dir: dir}
	m := sampleMorning(t)
	page := filepath.Join(dir, "morning.html")
	writeFile(t, page, func(f *os.File) error { return phtml.Morning(f, m) })

	shot := filepath.Join(dir, "morning.png")
	b.run(t, page, "--screenshot="+shot)
	checkPNG(t, shot)

	pdf := filepath.Join(dir, "morning.pdf")
	b.run(t, page, "--no-pdf-header-footer", "--print-to-pdf="+pdf)
	checkPDF(t, pdf)

	dom, _ := b.run(t, page, "--dump-dom")
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
	bin, ok := needChromium(t)
	if !ok {
		return
	}
	dir := t.TempDir()
	b := browser{bin: bin, dir: dir}
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
		dom, _ := b.run(t, page, "--dump-dom")
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
		run, fail, log := browserPlan(tc.bin, "no Chromium found", tc.short, tc.ci)
		if run != tc.run || (fail != "") != tc.fails || (log != "") != tc.logsSkips {
			t.Errorf("%s: run=%v fail=%q log=%q", tc.name, run, fail, log)
		}
		if fail != "" && !strings.Contains(fail, "apt-get install -y chromium") {
			t.Errorf("%s: the failure does not say how to install Chromium: %q", tc.name, fail)
		}
	}

	t.Setenv("PATCHNIGHT_CHROMIUM", filepath.Join(t.TempDir(), "no-such-chrome"))
	if bin, why := findChromium(); bin != "" || !strings.Contains(why, "PATCHNIGHT_CHROMIUM=") {
		t.Errorf("findChromium() = %q, %q for a missing override", bin, why)
	}
	exe := filepath.Join(t.TempDir(), "chrome")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATCHNIGHT_CHROMIUM", exe)
	if bin, _ := findChromium(); bin != exe {
		t.Errorf("findChromium() = %q, want the override %q", bin, exe)
	}
}
