package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
)

// TestE2ELabServe is issue 3's first acceptance exactly as a user runs it: patchnight lab
// init, then patchnight lab serve (in-process, until canceled), then client scan
// --collection with the configuration file lab serve wrote: the collection's online
// clients move to the current catalog and report scan --collection shows it, the
// offline ones are reported unreachable. lab serve's files are checked too: the
// credential file is 0600, and neither the configuration nor any output holds the
// password.
func TestE2ELabServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "lab.db")
	if _, stderr, code := run(t, nil, "lab", "init", "--db", db, "--hosts", "200", "--seed", "81"); code != 0 {
		t.Fatalf("lab init: exit %d: %s", code, stderr)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	wolPort := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()

	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var serveErr strings.Builder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, []string{"lab", "serve", "--db", db, "--addr", "127.0.0.1:0", "--wol-port", strconv.Itoa(wolPort)},
			IO{In: strings.NewReader(""), Out: pw, Err: &serveErr}, func(string) string { return "" })
		pw.Close()
		done <- code
	}()
	var served strings.Builder
	var cfg string
	sc := bufio.NewScanner(pr)
	for cfg == "" && sc.Scan() {
		served.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`use it with: patchnight --config (\S+) `).FindStringSubmatch(sc.Text()); m != nil {
			cfg = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }() // what lab serve still writes
	if cfg == "" {
		cancel()
		t.Fatalf("lab serve printed no configuration (exit %d): %s %s", <-done, served.String(), serveErr.String())
	}
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("lab serve ended with exit %d: %s", code, serveErr.String())
		}
	}()

	cred := filepath.Join(dir, "patchnight-lab.credential")
	st, err := os.Stat(cred)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credential file %s: %v, mode %v", cred, err, st.Mode())
	}
	pwBytes, err := os.ReadFile(cred)
	if err != nil {
		t.Fatal(err)
	}
	// The env reads the lab through its own handle; lab serve's site answers the CLI.
	e := &labEnv{t: t, dir: dir, path: db, cfgPath: cfg, secrets: []string{strings.TrimSpace(string(pwBytes))}}
	e.truth = openRO(t, db)
	t.Cleanup(e.checkNoSecrets)
	e.written = append(e.written, served.String(), serveErr.String())
	if conf, err := os.ReadFile(cfg); err != nil || !strings.Contains(string(conf), "connect_to: 127.0.0.1:") ||
		!strings.Contains(string(conf), "port: "+strconv.Itoa(wolPort)) {
		t.Fatalf("lab serve's configuration %s: %v\n%s", cfg, err, conf)
	}

	coll, online, offline := pickLocation(t, e, 30)
	var scan clientResult
	want := exit.Partial
	e.runJSON(&scan, want, "client", "scan", "--collection", coll)
	expectOutcomes(t, "scan", &scan, online, offline, 2) // lab serve leaves winrm.retries at its default, 2
	var rep scanReport
	e.runJSON(&rep, 0, "report", "scan", "--collection", coll)
	for _, b := range rep.Buckets {
		if n := e.scanBuckets(coll)[b.Bucket]; b.Clients != n {
			t.Errorf("report scan: %s %d, lab tables %d", b.Bucket, b.Clients, n)
		}
	}
	cur := e.count(`SELECT COUNT(*) FROM lab_collection_member m JOIN lab_host h ON h.ResourceID = m.ResourceID
		JOIN lab_scan_status s ON s.ResourceID = h.ResourceID AND s.UpdateSource_ID = `+publishSource+`
		WHERE m.CollectionID = ? AND h.IsClient = 1 AND h.Power = 'on' AND h.ScanFault = 0
		  AND s.LastScanState = 3 AND s.LastScanPackageVersion = `+currentCatalog, coll)
	if cur != len(online)-e.count(`SELECT COUNT(*) FROM lab_collection_member m JOIN lab_host h ON h.ResourceID = m.ResourceID
		WHERE m.CollectionID = ? AND h.IsClient = 1 AND h.Power = 'on' AND h.ScanFault <> 0`, coll) {
		t.Errorf("%d online members without a scan fault are on the current catalog; %d are online", cur, len(online))
	}
}
