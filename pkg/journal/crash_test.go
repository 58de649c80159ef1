package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const (
	crashHosts     = 20 // hosts of the step
	crashCompleted = 12 // hosts 0..11 handled before the kill
	crashPending   = 3  // installs of hosts 12..14 recorded but still buffered at the kill
)

var crashSpec = RunSpec{Plan: "restart-method", Month: "2026-12", PatchTuesday: "2026-12-08", TimeZone: "Europe/London"}

func crashStep(run RunID) StepSpec {
	return StepSpec{Run: run, Step: "install-logged-off", Occurrence: "install-logged-off", Action: "install-and-restart",
		Planned: time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)}
}

// handleHost is what a runner does for one host of an install-and-restart step: install,
// then write the restart intent durably, restart, and record the restart.
func handleHost(ctx context.Context, j *DB, run RunID, step StepID, h string, installDone, restartDone bool) error {
	if !installDone {
		if err := j.Record(ctx, HostOutcome{Run: run, Step: step, Host: h, Action: "install", Outcome: OutcomeOK}); err != nil {
			return err
		}
	}
	if restartDone {
		return nil
	}
	if err := j.RecordSync(ctx, HostOutcome{Run: run, Step: step, Host: h, Action: "restart", Outcome: Started}); err != nil {
		return err
	}
	// ... the restart is sent here ...
	return j.Record(ctx, HostOutcome{Run: run, Step: step, Host: h, Action: "restart", Outcome: OutcomeOK})
}

// crashChild runs the first part of a step and dies without closing the journal, as a
// killed runner would.
func crashChild(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	ctx := context.Background()
	j, err := OpenWith(ctx, dir, Options{BatchRows: 10, BatchDelay: time.Hour})
	if err != nil {
		fail(err)
	}
	run, _, err := j.BeginRun(ctx, crashSpec)
	if err != nil {
		fail(err)
	}
	st, _, err := j.BeginStep(ctx, crashStep(run.ID))
	if err != nil {
		fail(err)
	}
	for i := range crashCompleted {
		if err := handleHost(ctx, j, run.ID, st.ID, host(i), false, false); err != nil {
			fail(err)
		}
	}
	for i := crashCompleted; i < crashCompleted+crashPending; i++ {
		if err := j.Record(ctx, HostOutcome{Run: run.ID, Step: st.ID, Host: host(i), Action: "install", Outcome: OutcomeOK}); err != nil {
			fail(err)
		}
	}
	fmt.Println("crashing")
	os.Exit(1) // no Close, no Flush: buffered rows are lost, like a kill
}

func TestCrashAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=crash", dirEnv+"="+dir)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || strings.TrimSpace(string(out)) != "crashing" {
		t.Fatalf("child: %v, output %q", err, out)
	}

	j := openTest(t, dir, Options{BatchRows: 10})
	if err := j.Check(ctx); err != nil {
		t.Fatal(err)
	}
	run, ok, err := j.FindRun(ctx, crashSpec.Plan, crashSpec.Month)
	if err != nil || !ok {
		t.Fatalf("run after the crash: %v, %v", ok, err)
	}
	st, resumed, err := j.BeginStep(ctx, crashStep(run.ID))
	if err != nil || !resumed || st.Resumes != 1 || st.Done() {
		t.Fatalf("resumed step %+v, %v, %v", st, resumed, err)
	}
	installed, err := j.DoneHosts(ctx, st.ID, "install")
	if err != nil {
		t.Fatal(err)
	}
	restarted, err := j.DoneHosts(ctx, st.ID, "restart")
	if err != nil {
		t.Fatal(err)
	}
	for i := range crashHosts {
		h := host(i)
		if want := i < crashCompleted; installed.Has(h) != want || restarted.Has(h) != want {
			t.Errorf("%s after the crash: install done %v, restart done %v; want %v", h, installed.Has(h), restarted.Has(h), want)
		}
	}
	// The last host's restart confirmation was still buffered: its durable intent is what
	// keeps it from a second restart.
	last := host(crashCompleted - 1)
	rows, _ := j.HostOutcomes(ctx, Filter{Step: st.ID, Host: last, Action: "restart"})
	if len(rows) != 1 || rows[0].Outcome != Started {
		t.Errorf("%s restart rows after the crash: %+v, want the intent only", last, rows)
	}

	// Resume: the runner acts only where the journal says the host is not done.
	for i := range crashHosts {
		h := host(i)
		if err := handleHost(ctx, j, run.ID, st.ID, h, installed.Has(h), restarted.Has(h)); err != nil {
			t.Fatal(err)
		}
	}
	fin, err := j.FinishStep(ctx, st.ID, "", "")
	if err != nil || fin.Status != OK || fin.Counts.Hosts != crashHosts {
		t.Fatalf("finished %+v, %v", fin, err)
	}
	// From the journal alone: no host restarted twice within the step, every host installed.
	for i := range crashHosts {
		h := host(i)
		intents, _ := j.HostOutcomes(ctx, Filter{Step: st.ID, Host: h, Action: "restart", Outcome: Started})
		if len(intents) != 1 {
			t.Errorf("%s was restarted %d times in the step", h, len(intents))
		}
		if ok, _ := j.Done(ctx, st.ID, h, "install"); !ok {
			t.Errorf("%s not installed", h)
		}
	}
	if n := sqlCount(t, dir, `SELECT COUNT(*) FROM host_actions WHERE step = ? AND action = 'restart' AND outcome = 'started'`, st.ID); n != crashHosts {
		t.Errorf("%d restart intents, want %d", n, crashHosts)
	}
}

// lockChild takes the lock, says so, and holds it until its stdin closes.
