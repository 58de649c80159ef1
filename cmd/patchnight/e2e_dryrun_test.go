package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/runner"
)

// startLabServe runs `patchnight lab serve` in-process on db (extra flags after the
// fixed ones) until the test ends, and returns the configuration file it wrote.
func startLabServe(t *testing.T, db string, extra ...string) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	wolPort := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var serveErr strings.Builder
	done := make(chan int, 1)
	args := append([]string{"lab", "serve", "--db", db, "--addr", "127.0.0.1:0", "--wol-port", strconv.Itoa(wolPort)}, extra...)
	go func() {
		code := Main(ctx, args, IO{In: strings.NewReader(""), Out: pw, Err: &serveErr}, func(string) string { return "" })
		pw.Close()
		done <- code
	}()
	var cfg string
	sc := bufio.NewScanner(pr)
	var served strings.Builder
	for cfg == "" && sc.Scan() {
		served.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`use it with: patchnight --config (\S+) `).FindStringSubmatch(sc.Text()); m != nil {
			cfg = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if cfg == "" {
		cancel()
		t.Fatalf("lab serve printed no configuration (exit %d): %s %s", <-done, served.String(), serveErr.String())
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("lab serve ended with exit %d: %s", code, serveErr.String())
		}
	})
	return cfg
}

// tableSums is a checksum of every row of every table of a SQLite file, by table.
func tableSums(t *testing.T, path string) map[string]string {
	t.Helper()
	db := openRO(t, path)
	names := []string{}
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, n := range names {
		out[n] = tableSum(t, db, n)
	}
	db.Close()
	return out
}

func tableSum(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM "` + strings.ReplaceAll(table, `"`, `""`) + `"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%q", vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines) // the same rows in any order
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return fmt.Sprintf("%d rows %s", len(lines), hex.EncodeToString(h[:8]))
}

// diffSums says which tables differ.
func diffSums(before, after map[string]string) []string {
	var d []string
	for k, v := range before {
		if after[k] != v {
			d = append(d, fmt.Sprintf("%s: %s -> %s", k, v, after[k]))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			d = append(d, k+": new table")
		}
	}
	slices.Sort(d)
	return d
}

// TestE2ENightDryRun is issue 15's acceptance for the rehearsal: against `patchnight lab
// serve`, `night --dry-run` changes nothing (every table of the lab database and of the
// journal has the same rows before and after, and no lab event was recorded), and the
// targets it gives for the first step that acts on machines (scan-1630 in the default
// plan) are exactly the machines the real step then acts on (the journal's rows of the
// real run of that step).
func TestE2ENightDryRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "lab.db")
	if _, stderr, code := run(t, nil, "lab", "init", "--db", db, "--hosts", "120", "--seed", "15"); code != 0 {
		t.Fatalf("lab init: exit %d: %s", code, stderr)
	}
	// --tick 0: the lab changes its tables only when it is acted on, so that any change
	// between the two checksums is the dry run's.
	cfg := startLabServe(t, db, "--tick", "0")
	ctx := t.Context()
	app := &App{IO: IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}, Getenv: func(string) string { return "" },
		Now: time.Now, configPath: cfg}
	const month = "2026-12"

	// A journal with a run in it first: the real check-deployments step of the month.
	r, done, err := app.nightEnv(ctx, "", month)
	if err != nil {
		t.Fatal(err)
	}
	stateDir := r.Env.StateDir
	occ := map[string]int{}
	for i, o := range r.Timeline() {
		occ[o.ID] = i
	}
	if _, err := r.RunOccurrence(ctx, r.Timeline()[occ["check-deployments"]]); err != nil {
		t.Fatal(err)
	}
	done()
	jpath := filepath.Join(stateDir, journal.FileName)
	labBefore, jBefore := tableSums(t, db), tableSums(t, jpath)
	if !strings.HasPrefix(jBefore["runs"], "1 rows") || !strings.HasPrefix(jBefore["steps"], "1 rows") {
		t.Fatalf("journal %s after check-deployments: %v", jpath, jBefore)
	}

	out, stderr, code := runCfg(t, cfg, "night", "--dry-run", "--month", month, "-o", "json")
	if code != exit.OK {
		t.Fatalf("night --dry-run: exit %d: %s", code, stderr)
	}
	var dry runner.DryRun
	if err := json.Unmarshal([]byte(out), &dry); err != nil {
		t.Fatalf("night --dry-run -o json: %v\n%.1000s", err, out)
	}
	if d := diffSums(labBefore, tableSums(t, db)); len(d) > 0 {
		t.Errorf("the dry run changed the lab database: %v", d)
	}
	// The built-in plan fits its own times on this lab: every step within its limit and
	// before the next one starts (its estimate, at the profile's concurrency).
	for _, s := range dry.Steps {
		if !s.Time.Fits {
			t.Errorf("the built-in plan's %s does not fit: %s", s.Occurrence, s.Time.Warning)
		}
	}
	if d := diffSums(jBefore, tableSums(t, jpath)); len(d) > 0 {
		t.Errorf("the dry run changed the journal: %v", d)
	}
	// The table forms work and change nothing either.
	for _, f := range []string{"table", "csv", "md"} {
		if _, stderr, code := runCfg(t, cfg, "night", "--dry-run", "--month", month, "-o", f); code != exit.OK {
			t.Errorf("night --dry-run -o %s: exit %d: %s", f, code, stderr)
		}
	}
	if _, stderr, code := runCfg(t, cfg, "run", "scan-1630", "--dry-run", "--month", month, "-o", "json"); code != exit.OK {
		t.Errorf("run scan-1630 --dry-run: exit %d: %s", code, stderr)
	}
	// A follow-up step (issue 17): every day's occurrence, read from the site, nothing done.
	out, stderr, code = runCfg(t, cfg, "run", "follow-up-install-1110", "--dry-run", "--month", month, "-o", "json")
	var fu runner.DryRun
	if code != exit.OK || json.Unmarshal([]byte(out), &fu) != nil || len(fu.Steps) == 0 ||
		fu.Steps[0].Occurrence != "follow-up-install-1110-d02" || fu.Steps[0].Targets == 0 {
		t.Errorf("run follow-up-install-1110 --dry-run: exit %d: %s\n%.500s", code, stderr, out)
	}
	if d := diffSums(labBefore, tableSums(t, db)); len(d) > 0 {
		t.Errorf("the dry runs changed the lab database: %v", d)
	}

	var first *runner.DryStep
	for i := range dry.Steps {
		if dry.Steps[i].OnHosts && dry.Steps[i].Targets > 0 {
			first = &dry.Steps[i]
			break
		}
	}
	if first == nil || first.Occurrence != "scan-1630" {
		t.Fatalf("first step with targets: %+v, want scan-1630", first)
	}
	want := map[string]bool{}
	for _, h := range first.Hosts {
		want[strings.ToUpper(h.Name)] = true
	}
	var hosts int
	if err := openRO(t, db).QueryRow(`SELECT COUNT(*) FROM lab_host`).Scan(&hosts); err != nil {
		t.Fatal(err)
	}
	if len(want) != first.Targets || first.Targets == 0 || first.Targets >= hosts {
		t.Fatalf("scan-1630: %d targets, %d hosts listed, of %d lab machines (some are no clients or out of scope)", first.Targets, len(want), hosts)
	}

	// The real step, through the same wiring as `patchnight run scan-1630` on its day. Its
	// barrier is left out: it would wait up to 45 minutes of wall time for scans, and the
	// targets are chosen before it.
	r, done, err = app.nightEnv(ctx, "", month)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	o := r.Timeline()[occ["scan-1630"]]
	o.Step.Barrier = nil
	res, err := r.RunOccurrence(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := r.Env.Journal.HostOutcomes(ctx, journal.Filter{Step: res.Step.ID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, row := range rows {
		got[strings.ToUpper(row.Host)] = true
	}
	// The checksums see what a step does: the real one changed the lab's tables.
	if d := diffSums(labBefore, tableSums(t, db)); len(d) == 0 {
		t.Error("the real scan-1630 changed no lab table: the checksums would not see a dry run that acted")
	}
	if d := diffSets(got, want); d != "" {
		t.Errorf("the real scan-1630 acted on other machines than the dry run listed: %s", d)
	}
	t.Logf("scan-1630: %d targets in the dry run, %d machines in the real step's journal rows", len(want), len(got))
}

// runCfg runs the CLI in-process with a configuration file.
func runCfg(t *testing.T, cfg string, args ...string) (string, string, int) {
	t.Helper()
	return run(t, nil, append([]string{"--config", cfg}, args...)...)
}
