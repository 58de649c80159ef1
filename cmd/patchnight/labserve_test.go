package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
)

// servedLab is a `patchnight lab serve` running in-process (Main, as the binary runs it)
// until the test ends.
type servedLab struct {
	Config  string // the configuration file lab serve wrote (from its "use it with" line)
	Addr    string // the WS-Man endpoint it listens on
	Out     string // what it printed before it was ready
	WolPort int
}

// serveLab starts `patchnight lab serve --db db ARGS...` in-process and returns once it
// has printed how to use it. It adds --addr 127.0.0.1:0 and a free --wol-port unless
// ARGS give them, so tests never meet a port in use. When the test ends, the server is
// canceled (Ctrl-C) and must exit 0.
func serveLab(t *testing.T, db string, args ...string) *servedLab {
	t.Helper()
	args = append([]string{"lab", "serve", "--db", db}, args...)
	if !slicesContainsPrefix(args, "--addr") {
		args = append(args, "--addr", "127.0.0.1:0")
	}
	wolPort := 0
	if !slicesContainsPrefix(args, "--wol-port") {
		wolPort = freeUDPPort(t)
		args = append(args, "--wol-port", strconv.Itoa(wolPort))
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var mu sync.Mutex
	var serveErr strings.Builder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, args, IO{In: strings.NewReader(""), Out: pw, Err: lockedWriter{&mu, &serveErr}},
			func(string) string { return "" })
		pw.Close()
		done <- code
	}()
	s := &servedLab{WolPort: wolPort}
	var served strings.Builder
	sc := bufio.NewScanner(pr)
	use := regexp.MustCompile(`^use it with: patchnight --config (\S+) `)
	at := regexp.MustCompile(`serving WS-Man on (\S+) `)
	for s.Config == "" && sc.Scan() {
		served.WriteString(sc.Text() + "\n")
		if m := at.FindStringSubmatch(sc.Text()); m != nil {
			s.Addr = m[1]
		}
		if m := use.FindStringSubmatch(sc.Text()); m != nil {
			s.Config = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }() // what lab serve still writes
	s.Out = served.String()
	if s.Config == "" {
		cancel()
		code := <-done
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("lab serve %v printed no configuration (exit %d): %s %s", args, code, served.String(), serveErr.String())
	}
	t.Cleanup(func() {
		cancel()
		code := <-done
		mu.Lock()
		defer mu.Unlock()
		if code != 0 {
			t.Errorf("lab serve ended with exit %d: %s", code, serveErr.String())
		}
	})
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func slicesContainsPrefix(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestLabServeProfiles: the profile lab serve writes is one the client accepts, over
// HTTPS and over plain HTTP (--http used to write the TLS server name into an HTTP
// profile, which the client refuses): client scan on one online lab machine through it
// succeeds.
func TestLabServeProfiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		args  []string
		https string
	}{
		{"https", nil, "https: true"},
		{"http", []string{"--http"}, "https: false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := buildLab(t, 60, 5)
			s := serveLab(t, db, tc.args...)
			conf, err := os.ReadFile(s.Config)
			if err != nil || !strings.Contains(string(conf), tc.https) {
				t.Fatalf("%s: %v\n%s", s.Config, err, conf)
			}
			host := onlineLabHost(t, db)
			out, stderr, code := run(t, nil, "--config", s.Config, "client", "scan", "--host", host)
			if code != exit.OK {
				t.Errorf("client scan --host %s with lab serve %v's profile: exit %d\n%s%s", host, tc.args, code, stderr, out)
			}
		})
	}
}

// onlineLabHost names a lab machine that is on, has a healthy client and no injected fault.
func onlineLabHost(t *testing.T, db string) string {
	t.Helper()
	ro := openRO(t, db)
	var name string
	if err := ro.QueryRow(`SELECT Name FROM lab_host WHERE Power = 'on' AND IsClient = 1 AND ScanFault = 0
		ORDER BY ResourceID LIMIT 1`).Scan(&name); err != nil {
		t.Fatalf("no online lab host: %v", err)
	}
	return name
}

// TestDemoKeepCommandWorks: demo --keep DIR prints how to look at what it kept, and the
// commands work as printed: lab serve on the kept database, then history with the
// profile lab serve writes finds the demo's night in the journal (the demo used to keep
// its journal in a folder other than the one the profile names).
func TestDemoKeepCommandWorks(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "kept")
	out, stderr, code := run(t, nil, "demo", "--keep", dir, "--hosts", "12", "--concurrency", "12")
	if code != 0 {
		t.Fatalf("demo --keep: exit %d: %s", code, stderr)
	}
	m := regexp.MustCompile(`patchnight lab serve --db (\S+), then patchnight --config (\S+) history\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("demo --keep prints no follow-up commands:\n%s", out)
	}
	s := serveLab(t, m[1])
	if s.Config != m[2] {
		t.Errorf("lab serve wrote %s, the demo names %s", s.Config, m[2])
	}
	var h struct {
		Runs []struct {
			Status string `json:"status"`
			Month  string `json:"month"`
		} `json:"runs"`
	}
	hout, stderr, code := run(t, nil, "--config", m[2], "history", "-o", "json")
	if code != 0 {
		t.Fatalf("history as the demo prints it: exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(hout), &h); err != nil || len(h.Runs) != 1 {
		t.Errorf("history lists %d runs (%v), want the demo's night:\n%s", len(h.Runs), err, hout)
		return
	}
	// TestReportFollowUpCmd: the long-tail report of the kept night, from its journal.
	fout, stderr, code := run(t, nil, "--config", m[2], "report", "follow-up", "--month", h.Runs[0].Month, "-o", "json")
	if code != 0 {
		t.Fatalf("report follow-up: exit %d: %s", code, stderr)
	}
	var f struct {
		Month string `json:"month"`
		Days  []struct {
			Day      int  `json:"day"`
			Measured bool `json:"measured"`
		} `json:"days"`
		MessedUp  []any `json:"messed_up"`
		NotSeen   []any `json:"not_seen"`
		Unpatched []any `json:"unpatched"`
		Seen      *struct {
			Eligible, Seen, Patched int64
		} `json:"seen_since_night"`
	}
	// D0..D+28: December 2026's follow-up runs until the next Patch Tuesday (12 January)
	// minus a week, past D+21.
	if err := json.Unmarshal([]byte(fout), &f); err != nil || f.Month != h.Runs[0].Month || len(f.Days) != 29 || !f.Days[1].Measured || f.MessedUp == nil ||
		f.NotSeen == nil || f.Unpatched == nil || f.Seen == nil || f.Seen.Eligible == 0 || f.Seen.Seen > f.Seen.Eligible || f.Seen.Patched > f.Seen.Seen ||
		int64(len(f.Unpatched)) != f.Seen.Seen-f.Seen.Patched {
		t.Errorf("report follow-up (%v):\n%s", err, fout)
	}
	// By location and machine kind, and the HTML document with its line chart.
	var bd struct {
		ByLocation []struct{ Name string } `json:"by_location"`
		ByKind     []struct{ Name string } `json:"by_kind"`
	}
	if err := json.Unmarshal([]byte(fout), &bd); err != nil || len(bd.ByLocation) == 0 || len(bd.ByKind) == 0 {
		t.Errorf("report follow-up has no breakdown by location and kind (%v):\n%.2000s", err, fout)
	}
	page := filepath.Join(t.TempDir(), "followup.html")
	if _, stderr, code := run(t, nil, "--config", m[2], "report", "follow-up", "--month", h.Runs[0].Month, "-o", "html", "--out", page); code != 0 {
		t.Errorf("report follow-up -o html: exit %d: %s", code, stderr)
	} else if doc, err := os.ReadFile(page); err != nil || !bytes.Contains(doc, []byte(`id="by-day"`)) || !bytes.Contains(doc, []byte("<polyline")) {
		t.Errorf("report follow-up -o html wrote no line chart (%v): %.500s", err, doc)
	}
	if _, stderr, code := run(t, nil, "--config", m[2], "report", "follow-up", "--month", "2026-13"); code != 64 {
		t.Errorf("report follow-up with a bad month: exit %d: %s", code, stderr)
	}
}

// unwrapTable undoes the wrapping of long cells in an ASCII table: the lines of a row
// whose first cell is empty continue the row above, and their cells are joined to its
// cells with a space. Other lines are kept.
func unwrapTable(s string) string {
	var out []string
	var row []string // the row being collected
	flush := func() {
		if row != nil {
			out = append(out, "| "+strings.Join(row, " | ")+" |")
			row = nil
		}
	}
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "|") || !strings.HasSuffix(l, "|") {
			flush()
			out = append(out, l)
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if row != nil && cells[0] == "" && len(cells) == len(row) {
			for i, c := range cells {
				if c != "" {
					row[i] = strings.TrimSpace(row[i] + " " + c)
				}
			}
			continue
		}
		flush()
		row = cells
	}
	flush()
	return strings.Join(out, "\n")
}
