package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// runTTY runs the CLI in-process with the lab profile as runConfig does, but with stdin
// a terminal (IO.StdinTerminal) that answers answer.
func (e *labEnv) runTTY(answer string, args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, append([]string{"--config", e.cfgPath}, args...),
		IO{In: strings.NewReader(answer), Out: &out, Err: &errb, StdinTerminal: true},
		func(k string) string { return e.env[k] })
	e.mu.Lock()
	e.written = append(e.written, out.String(), errb.String())
	e.mu.Unlock()
	return out.String(), errb.String(), code
}

// TestConfirmSelection is issue 14 item 2 as a table over every command that restarts,
// installs or changes collections on a selection (client restart and install over WinRM,
// client restart --via site, collections apply and prune), against one lab site:
//   - no terminal and no --yes: exit 64, one line naming --yes and --dry-run, nothing changed
//     (no restart or install in lab_event, lab_collection as before);
//   - --dry-run: exit 0, the machines listed (exactly the collection's clients), nothing changed;
//   - a terminal answering n: asked "VERB N machines in C? [y/N]", nothing changed;
//   - a terminal answering y, or --yes: the command acts.
//
// The steps run in order on the one lab; each acting step of a client command uses a
// collection of its own, so that a restarted machine is not asked twice.
func TestConfirmSelection(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 300, seed: 14})
	var locs []string
	for _, r := range e.rows(`SELECT CollectionID FROM lab_collection WHERE Name LIKE 'Location - %' ORDER BY CollectionID`) {
		if on, _ := e.members(r[0]); len(on) >= 3 {
			locs = append(locs, r[0])
		}
	}
	if len(locs) < 6 {
		t.Fatalf("the lab has %d location collections with 3 online clients, want 6", len(locs))
	}
	group := e.rows(`SELECT Title FROM lab_update WHERE CIType_ID = 9`)[0][0]

	// state is what any of these commands changes: the lab's restarts and installs, and
	// its collections.
	state := func() string {
		ev := e.count(`SELECT COUNT(*) FROM lab_event WHERE Action IN ('restart', 'install')`)
		colls := e.rows(`SELECT CollectionID, Name FROM lab_collection ORDER BY CollectionID`)
		return fmt.Sprint(ev, colls)
	}

	const (
		noTTY  = "no terminal"
		dryRun = "--dry-run"
		ttyNo  = "terminal n"
		ttyYes = "terminal y"
		yes    = "--yes"
	)
	type step struct {
		mode   string
		args   []string
		coll   string // the target collection, whose clients --dry-run lists ("" for collections)
		prompt string // the question on a terminal
	}
	restart := func(c string) []string { return []string{"client", "restart", "--collection", c} }
	install := func(c string) []string { return []string{"client", "install", "--collection", c} }
	viaSite := func(c string) []string { return []string{"client", "restart", "--via", "site", "--collection", c} }
	apply := func(month string) []string {
		return []string{"collections", "apply", "--group", group, "--month", month, "--wait", "0"}
	}
	prune := func(month string) []string {
		return []string{"collections", "prune", "--family", "missing-update", "--month", month, "--wait", "0"}
	}
	steps := []step{
		{noTTY, restart(locs[0]), locs[0], ""},
		{dryRun, restart(locs[0]), locs[0], ""},
		{ttyNo, restart(locs[0]), locs[0], "restart %d machines in " + locs[0] + "? [y/N]"},
		{ttyYes, restart(locs[0]), locs[0], "restart %d machines in " + locs[0] + "? [y/N]"},
		{yes, restart(locs[1]), locs[1], ""},

		{noTTY, install(locs[2]), locs[2], ""},
		{dryRun, install(locs[2]), locs[2], ""},
		{ttyNo, install(locs[2]), locs[2], "install %d machines in " + locs[2] + "? [y/N]"},
		{ttyYes, install(locs[2]), locs[2], "install %d machines in " + locs[2] + "? [y/N]"},
		{yes, install(locs[3]), locs[3], ""},

		{noTTY, viaSite(locs[4]), locs[4], ""},
		{dryRun, viaSite(locs[4]), locs[4], ""},
		{ttyNo, viaSite(locs[4]), locs[4], "restart %d machines in " + locs[4] + " through the site? [y/N]"},
		{ttyYes, viaSite(locs[4]), locs[4], "restart %d machines in " + locs[4] + " through the site? [y/N]"},
		{yes, viaSite(locs[5]), locs[5], ""},

		{noTTY, apply("2026-10"), "", ""},
		{dryRun, apply("2026-10"), "", ""},
		{ttyNo, apply("2026-10"), "", "collection changes at the site? [y/N]"},
		{ttyYes, apply("2026-10"), "", "collection changes at the site? [y/N]"},
		{yes, apply("2026-11"), "", ""},

		// prune for 2026-11 deletes the 2026-10 collections; for 2026-12, those of 2026-11.
		{noTTY, prune("2026-11"), "", ""},
		{dryRun, prune("2026-11"), "", ""},
		{ttyNo, prune("2026-11"), "", "delete %d collections at the site? [y/N]"},
		{ttyYes, prune("2026-11"), "", "delete %d collections at the site? [y/N]"},
		{yes, prune("2026-12"), "", ""},
	}
	for _, s := range steps {
		name := strings.Join(s.args[:2], " ") + " " + strings.Join(s.args[2:], " ") + ": " + s.mode
		before := state()
		var out, stderr string
		var code int
		switch s.mode {
		case noTTY:
			out, stderr, code = e.run(s.args...)
		case dryRun:
			out, stderr, code = e.run(append(s.args, "--dry-run", "-o", "json")...)
		case ttyNo:
			out, stderr, code = e.runTTY("n\n", s.args...)
		case ttyYes:
			out, stderr, code = e.runTTY("y\n", s.args...)
		case yes:
			out, stderr, code = e.run(append(s.args, "--yes")...)
		}
		after := state()
		acts := s.mode == ttyYes || s.mode == yes
		switch {
		case !acts && code != 0 && (s.mode != noTTY || code != exit.Usage):
			t.Errorf("%s: exit %d\nstderr: %s", name, code, stderr)
		case s.mode == noTTY && code != exit.Usage:
			t.Errorf("%s: exit %d, want 64\nstderr: %s", name, code, stderr)
		case acts && code != 0 && code != exit.Partial:
			t.Errorf("%s: exit %d\nstderr: %s", name, code, stderr)
		}
		if acts == (before == after) {
			t.Errorf("%s: changed the lab %v, want %v", name, before != after, acts)
		}
		switch s.mode {
		case noTTY:
			line := strings.TrimSpace(stderr)
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "patchnight: ") ||
				!strings.Contains(line, "pass --yes to ") || !strings.Contains(line, "or --dry-run to list them") || out != "" {
				t.Errorf("%s: want one line naming --yes and --dry-run, got stdout %.300q stderr %.300q", name, out, stderr)
			}
		case ttyNo, ttyYes:
			if !strings.Contains(stderr, "? [y/N]") {
				t.Errorf("%s: not asked: %s", name, stderr)
			}
			want := regexp.QuoteMeta(s.prompt)
			if s.coll != "" {
				on, off := e.members(s.coll)
				want = strings.Replace(want, "%d", strconv.Itoa(len(on)+len(off)), 1)
			}
			if !regexp.MustCompile(strings.Replace(want, "%d", `[1-9]\d*`, 1)).MatchString(stderr) {
				t.Errorf("%s: asked %q, want %q", name, stderr, s.prompt)
			}
		case dryRun:
			if s.coll == "" {
				if !json.Valid([]byte(out)) || !strings.Contains(out, `"changes"`) {
					t.Errorf("%s: no plan listed: %.500s", name, out)
				}
				break
			}
			var d struct {
				DryRun bool     `json:"dry_run"`
				Items  []string `json:"items"`
			}
			if err := json.Unmarshal([]byte(out), &d); err != nil || !d.DryRun {
				t.Errorf("%s: stdout is not the dry run's list (%v): %.500s", name, err, out)
				break
			}
			got := map[string]bool{}
			for _, h := range d.Items {
				got[strings.ToUpper(h)] = true
			}
			if diff := diffSets(got, union(e.members(s.coll))); diff != "" || len(d.Items) != len(got) {
				t.Errorf("%s: listed machines vs the collection's clients: %s (%d listed)", name, diff, len(d.Items))
			}
		}
	}
}
