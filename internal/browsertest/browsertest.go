// Package browsertest runs headless Chromium for tests: it finds the browser (or says how
// to install it), renders a local page to PNG, PDF or a DOM dump with every network feature
// off, and checks the results (console messages, a drawn screenshot, an A4 PDF). It is
// used only by tests.
package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const InstallHint = "headless Chromium is needed for this test: install it with `sudo apt-get install -y chromium` " +
	"(Debian/Ubuntu) or point PATCHNIGHT_CHROMIUM at a Chromium or Chrome binary; " +
	"`go test -short` leaves the browser test out on a developer machine (never in CI)"

// Find returns the browser binary, or "" and why there is none.
func Find() (string, string) {
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

// Plan decides what the browser test does: run, or fail with a message, or (only
// with -short outside CI) log that it did not run.
func Plan(bin, why string, short bool, ci string) (run bool, fail, log string) {
	switch {
	case bin != "":
		return true, "", ""
	case short && ci == "":
		return false, "", "the browser test did not run (-short): " + why + "; " + InstallHint
	}
	return false, why + "; " + InstallHint, ""
}

// Need returns the browser, or ends the test: it fails without a browser unless
// -short is given outside CI, the one way to leave the browser test out.
func Need(t *testing.T) (string, bool) {
	t.Helper()
	bin, why := Find()
	run, fail, log := Plan(bin, why, testing.Short(), os.Getenv("CI"))
	if fail != "" {
		t.Fatal(fail)
	}
	if log != "" {
		t.Log(log)
	}
	return bin, run
}

// Browser runs headless Chromium on one file.
type Browser struct {
	Bin string
	Dir string // scratch directory for profiles and outputs
}

// Run runs Chromium with the mode flag (--screenshot=..., --print-to-pdf=..., --dump-dom)
// on page and returns stdout and stderr. Every run gets a fresh profile, and all network
// features that would call out are off; the page is a local file.
func (b Browser) Run(t *testing.T, page string, mode ...string) (stdout, stderr []byte) {
	t.Helper()
	// A guard against a hung browser, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	profile, err := os.MkdirTemp(b.Dir, "profile-")
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
	cmd := exec.CommandContext(ctx, b.Bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+profile) // keep the browser's caches out of the real home
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(mode, " "), err, tail(errb.String(), 30))
	}
	CheckConsole(t, errb.String())
	return out.Bytes(), errb.Bytes()
}

// CheckConsole fails on any console message of the page: the report has no script, so any
// console line (an uncaught error, a blocked resource) is a fault.
func CheckConsole(t *testing.T, stderr string) {
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

// CheckPNG decodes a screenshot and asserts that something was drawn: enough non-white
// pixels, more than a handful of colours, and a luminance variance well above a flat page.
func CheckPNG(t *testing.T, path string) {
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

// CheckPDF asserts that a PDF was written.
func CheckPDF(t *testing.T, path string) {
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
