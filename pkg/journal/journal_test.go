package journal

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// helperEnv makes the test binary act as a child process (see TestMain).
const (
	helperEnv = "PATCHNIGHT_JOURNAL_HELPER"
	dirEnv    = "PATCHNIGHT_JOURNAL_DIR"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "crash":
		crashChild(os.Getenv(dirEnv)) // exits 1 mid-step
	}
	os.Exit(m.Run())
}

func openTest(t testing.TB, dir string, opt Options) *DB {
	t.Helper()
	j, err := OpenWith(context.Background(), dir, opt)
	if err != nil {
		t.Fatalf("open journal: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func beginStep(t testing.TB, j *DB, occurrence string) (Run, Step) {
	t.Helper()
	ctx := context.Background()
	run, _, err := j.BeginRun(ctx, RunSpec{Plan: "restart-method", Month: "2026-12", PatchTuesday: "2026-12-08", TimeZone: "Europe/London"})
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := j.BeginStep(ctx, StepSpec{Run: run.ID, Step: occurrence, Occurrence: occurrence, Action: "install-and-restart",
		Planned: time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return run, st
}

func host(i int) string { return fmt.Sprintf("PC%05d", i) }

func TestRunsAndStepsLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, t.TempDir(), Options{})
	spec := RunSpec{Plan: "restart-method", Month: "2026-12", PatchTuesday: "2026-12-08", TimeZone: "Europe/London"}
	run, resumed, err := j.BeginRun(ctx, spec)
	if err != nil || resumed || run.ID == 0 || run.Status != Running {
		t.Fatalf("BeginRun = %+v, %v, %v", run, resumed, err)
	}
	again, resumed, err := j.BeginRun(ctx, spec)
	if err != nil || !resumed || again.ID != run.ID {
		t.Fatalf("second BeginRun = %+v, %v, %v", again, resumed, err)
	}
	if _, ok, _ := j.FindRun(ctx, "restart-method", "2027-01"); ok {
		t.Error("found a run for another month")
	}
	if _, _, err := j.BeginRun(ctx, RunSpec{Plan: "x"}); exit.Code(err) != exit.Usage {
		t.Errorf("BeginRun without a month: %v", err)
	}

	spec1 := StepSpec{Run: run.ID, Step: "install-logged-off", Occurrence: "install-logged-off", Action: "install-and-restart", Planned: time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)}
	st, resumed, err := j.BeginStep(ctx, spec1)
	if err != nil || resumed || st.Status != Running || st.Done() {
		t.Fatalf("BeginStep = %+v, %v, %v", st, resumed, err)
	}
	outcomes := []Outcome{OutcomeOK, OutcomeOK, OutcomeFailed, Unreachable, Skipped, Deferred, Started}
	for i, o := range outcomes {
		if err := j.Record(ctx, HostOutcome{Run: run.ID, Step: st.ID, Host: host(i), Action: "install", Outcome: o, Reason: "line one\nline two"}); err != nil {
			t.Fatal(err)
		}
	}
	// PC00002 is tried again and succeeds: its last row counts.
	if err := j.Record(ctx, HostOutcome{Run: run.ID, Step: st.ID, Host: "pc00002", Action: "install", Attempt: 2, Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	c, err := j.StepCounts(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{Hosts: 7, OK: 3, Failed: 1, Skipped: 2, Unconfirmed: 1}); c != want {
		t.Errorf("counts %+v, want %+v", c, want)
	}
	again1, resumed, err := j.BeginStep(ctx, spec1)
	if err != nil || !resumed || again1.ID != st.ID || again1.Resumes != 1 {
		t.Fatalf("resumed BeginStep = %+v, %v, %v", again1, resumed, err)
	}
	fin, err := j.FinishStep(ctx, st.ID, "", "2 hosts need a person")
	if err != nil || fin.Status != Partial || !fin.Done() || fin.Counts.Hosts != 7 {
		t.Fatalf("FinishStep = %+v, %v", fin, err)
	}
	done, resumed, err := j.BeginStep(ctx, spec1)
	if err != nil || !resumed || !done.Done() || done.Resumes != 1 {
		t.Fatalf("BeginStep of a finished step = %+v, %v, %v", done, resumed, err)
	}
	rows, err := j.HostOutcomes(ctx, Filter{Step: st.ID, Host: "PC00002"})
	if err != nil || len(rows) != 2 || rows[0].Outcome != OutcomeFailed || rows[1].Attempt != 2 {
		t.Fatalf("rows of PC00002: %+v, %v", rows, err)
	}
	all, _ := j.HostOutcomes(ctx, Filter{Run: run.ID})
	for _, r := range all {
		if strings.ContainsAny(r.Reason, "\n\r") {
			t.Errorf("reason kept a line break: %q", r.Reason)
		}
	}
	if err := j.FinishRun(ctx, run.ID, Partial); err != nil {
		t.Fatal(err)
	}

	// history
	hist, err := j.History(ctx)
	if err != nil || len(hist.Runs) != 1 || hist.Runs[0].StepsStarted != 1 || hist.Runs[0].StepsNotOK != 1 || hist.Runs[0].Status != Partial {
		t.Fatalf("history %+v, %v", hist, err)
	}
	det, err := j.Detail(ctx, run.ID)
	if err != nil || len(det.Steps) != 1 {
		t.Fatalf("detail %+v, %v", det, err)
	}
	if det.Steps[0].Occurrence != "install-logged-off" || det.Steps[0].Note != "2 hosts need a person" {
		t.Errorf("detail step %+v", det.Steps[0])
	}
	// The tables are pkg/report's (report.History, report.RunHistory); the JSON is this.
	b, err := json.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Runs []struct {
			ID     int64  `json:"id"`
			Month  string `json:"month"`
			Status string `json:"status"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Runs) != 1 || back.Runs[0].Month != "2026-12" {
		t.Errorf("history json %s: %v", b, err)
	}
	if _, err := j.Detail(ctx, 999); exit.Code(err) != exit.Usage {
		t.Errorf("unknown run: %v", err)
	}
	if err := j.Check(ctx); err != nil {
		t.Error(err)
	}
}

func TestDoneAndRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, t.TempDir(), Options{})
	run, st := beginStep(t, j, "install-logged-off")
	st2, _, err := j.BeginStep(ctx, StepSpec{Run: run.ID, Step: "retry-install", Occurrence: "retry-install-0145", Action: "install-and-restart", Planned: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(s Step, h, action string, o Outcome) {
		t.Helper()
		if err := j.Record(ctx, HostOutcome{Run: run.ID, Step: s.ID, Host: h, Action: action, Outcome: o}); err != nil {
			t.Fatal(err)
		}
	}
	rec(st, "A", "install", OutcomeOK)
	rec(st, "A", "restart", Started)
	rec(st, "B", "install", Timeout)
	rec(st, "C", "install", Deferred)
	rec(st, "D", "install", RetriesExhausted)
	rec(st2, "B", "install", OutcomeFailed)
	rec(st2, "B", "install", Auth)

	cases := []struct {
		step   Step
		host   string
		action string
		done   bool
	}{
		{st, "A", "install", true}, {st, "a", "install", true}, {st, "A", "restart", true},
		{st, "B", "install", false}, {st, "C", "install", false}, {st, "D", "install", true},
		{st, "E", "install", false}, {st2, "A", "install", false},
	}
	for _, tc := range cases {
		got, err := j.Done(ctx, tc.step.ID, tc.host, tc.action)
		if err != nil || got != tc.done {
			t.Errorf("Done(%s, %s, %s) = %v, %v; want %v", tc.step.Occurrence, tc.host, tc.action, got, err, tc.done)
		}
	}
	set, err := j.DoneHosts(ctx, st.ID, "install")
	if err != nil || set.Len() != 2 || !set.Has("a") || !set.Has("D") || set.Has("B") {
		t.Errorf("DoneHosts = %v, %v", set, err)
	}
	n, err := j.FailedAttempts(ctx, run.ID, "b", "install")
	if err != nil || n != 3 {
		t.Errorf("FailedAttempts(B) = %d, %v; want 3 (timeout, failed, auth over two steps)", n, err)
	}
	counts, err := j.FailedCounts(ctx, run.ID, "install")
	if err != nil || counts["B"] != 3 || len(counts) != 1 {
		t.Errorf("FailedCounts = %v, %v", counts, err)
	}
	oc, _ := j.OutcomeCounts(ctx, st2.ID)
	if oc[OutcomeFailed] != 1 || oc[Auth] != 1 {
		t.Errorf("OutcomeCounts = %v", oc)
	}
	bad := []HostOutcome{
		{Run: run.ID, Step: st.ID, Host: "", Action: "install", Outcome: OutcomeOK},
		{Run: run.ID, Step: st.ID, Host: "X", Action: "install", Outcome: "exploded"},
		{Run: 0, Step: st.ID, Host: "X", Action: "install", Outcome: OutcomeOK},
	}
	for _, b := range bad {
		if err := j.Record(ctx, b); err == nil {
			t.Errorf("Record(%+v) accepted", b)
		}
	}
}

// Rows wait in the buffer until BatchRows or BatchDelay. The size flush is checked with a
// delay too long to fire; the delay flush on its own, observed through the write hook,
// with no sleeping and nothing that depends on the machine's speed.
func TestBatchedWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	written := make(chan int, 100)
	j := openTest(t, dir, Options{BatchRows: 10, BatchDelay: time.Hour, afterWrite: func(n int) { written <- n }})
	run, st := beginStep(t, j, "scan-1630")
	for i := range 25 {
		if err := j.Record(ctx, HostOutcome{Run: run.ID, Step: st.ID, Host: host(i), Action: "scan", Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
	// Two full batches were written by Record itself; the last 5 wait for a flush.
	if got := []int{<-written, <-written}; got[0] != 10 || got[1] != 10 {
		t.Errorf("batches %v, want [10 10]", got)
	}
	if err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-written; got != 5 {
		t.Errorf("flush wrote %d rows, want 5", got)
	}
	other := openTest(t, dir, Options{})
	var n int
	if err := other.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM host_actions`).Scan(&n); err != nil || n != 25 {
		t.Errorf("another connection sees %d rows, %v", n, err)
	}

	timed := make(chan int, 10)
	k := openTest(t, t.TempDir(), Options{BatchRows: 10, BatchDelay: 20 * time.Millisecond, afterWrite: func(n int) { timed <- n }})
	run2, st2 := beginStep(t, k, "scan-1930")
	for i := range 3 {
		if err := k.Record(ctx, HostOutcome{Run: run2.ID, Step: st2.ID, Host: host(i), Action: "scan", Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for total < 3 {
		total += <-timed // the timer writes what waits, in one batch or (on a slow machine) more
	}
	if total != 3 {
		t.Errorf("the delay flush wrote %d rows, want 3", total)
	}
}

// Eight goroutines record at once through one journal, and four more through a second
// handle on the same file (as a second process would): every row arrives, none twice.
func TestConcurrentRecording(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	a := openTest(t, dir, Options{BatchRows: 64})
	b := openTest(t, dir, Options{BatchRows: 32})
	run, st := beginStep(t, a, "install-logged-off")
	const perWorker = 200
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for w := range 12 {
		j := a
		if w >= 8 {
			j = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				h := host(w*perWorker + i)
				var err error
				if i%50 == 0 {
					err = j.RecordSync(ctx, HostOutcome{Run: run.ID, Step: st.ID, Host: h, Action: "restart", Outcome: Started})
				} else {
					err = j.Record(ctx, HostOutcome{Run: run.ID, Step: st.ID, Host: h, Action: "install", Outcome: OutcomeOK})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := a.StepCounts(ctx, st.ID)
	if err != nil || c.Hosts != 12*perWorker {
		t.Fatalf("counts %+v, %v; want %d hosts", c, err, 12*perWorker)
	}
	var dup int
	if err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT host FROM host_actions GROUP BY host HAVING COUNT(*) > 1)`).Scan(&dup); err != nil || dup != 0 {
		t.Errorf("%d hosts recorded twice, %v", dup, err)
	}
	if err := a.Check(ctx); err != nil {
		t.Error(err)
	}
}

func TestNotices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, t.TempDir(), Options{})
	run, _ := beginStep(t, j, "thursday-notice")
	base := time.Date(2026, 12, 10, 10, 0, 0, 0, time.UTC)
	var ns []Notice
	for week := range 4 {
		ns = append(ns, Notice{Run: run.ID, Host: "PC1", User: `CONTOSO\ann`, Kind: MissingNotice, Update: "5048652", ArticleID: "5048652", Delivered: true, Channel: "msg", At: base.AddDate(0, 0, 7*week)})
	}
	ns = append(ns,
		Notice{Host: "pc1", User: `CONTOSO\ann`, Kind: ScanNotice, Delivered: true, Channel: "hta", At: base.Add(time.Hour)},
		Notice{Host: "PC2", Kind: MissingNotice, Update: "5048652", Delivered: false, Reason: "no user logged on", At: base},
		Notice{Host: "PC2", User: "bob", Kind: MissingNotice, Update: "MS07-042", BulletinID: "MS07-042", Delivered: true, At: base},
	)
	if err := j.RecordNotice(ctx, ns...); err != nil {
		t.Fatal(err)
	}
	if n, err := j.NoticeCount(ctx, "pc1", "5048652", MissingNotice); err != nil || n != 4 {
		t.Errorf("NoticeCount(PC1) = %d, %v", n, err)
	}
	if n, _ := j.NoticeCount(ctx, "PC2", "5048652", MissingNotice); n != 0 {
		t.Errorf("undelivered notice counted: %d", n)
	}
	if n, _ := j.NoticeCount(ctx, "PC2", "ms07-042", MissingNotice); n != 1 {
		t.Errorf("bulletin notice count %d", n)
	}
	last, ok, err := j.LastNotice(ctx, "PC1")
	if err != nil || !ok || !last.At.Equal(base.AddDate(0, 0, 21)) || last.Kind != MissingNotice || last.Run != run.ID {
		t.Errorf("LastNotice = %+v, %v, %v", last, ok, err)
	}
	if _, ok, _ := j.LastNotice(ctx, "PC9"); ok {
		t.Error("LastNotice of a host never told")
	}
	tallies, err := j.NoticeTallies(ctx, MissingNotice, 4)
	if err != nil || len(tallies) != 1 || tallies[0].Host != "PC1" || tallies[0].Count != 4 || !tallies[0].First.Equal(base) {
		t.Errorf("tallies %+v, %v", tallies, err)
	}
	all, _ := j.Notices(ctx, "")
	if len(all) != 7 || all[0].Run != run.ID {
		t.Errorf("notices %d", len(all))
	}
	if err := j.RecordNotice(ctx, Notice{Host: "X", Kind: "shout"}); err == nil {
		t.Error("unknown notice kind accepted")
	}
}

func TestWakes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, t.TempDir(), Options{})
	run, st := beginStep(t, j, "wake")
	sent := time.Date(2026, 12, 8, 18, 0, 0, 0, time.UTC)
	if err := j.RecordWake(ctx, Wake{Run: run.ID, Step: st.ID, Host: "PC1", MAC: "00:11:22:33:44:55", Method: "directed", Packets: 3, Sent: sent, Woke: sent.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := j.RecordWake(ctx, Wake{Run: run.ID, Step: st.ID, Host: "PC2", Method: "unicast", Packets: 3, Sent: sent}); err != nil {
		t.Fatal(err)
	}
	ws, err := j.Wakes(ctx, st.ID)
	if err != nil || len(ws) != 2 || !ws[0].Woke.Equal(sent.Add(2*time.Minute)) || !ws[1].Woke.IsZero() || ws[0].MAC != "00:11:22:33:44:55" {
		t.Errorf("wakes %+v, %v", ws, err)
	}
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	j, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := j.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion() {
		t.Fatalf("user_version %d, %v", v, err)
	}
	var mode string
	if err := j.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v", mode, err)
	}
	if _, err := j.db.ExecContext(ctx, "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := Open(ctx, dir); exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "newer patchnight") {
		t.Errorf("newer schema: %v", err)
	}
	// Not a database at all.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, FileName), bytes.Repeat([]byte("not sqlite "), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, bad); err == nil {
		t.Error("opened a file that is not a database")
	}
	if _, err := Open(ctx, ""); exit.Code(err) != exit.Usage {
		t.Errorf("empty dir: %v", err)
	}
}

// The journal holds nothing beyond what it is given: a reason is stored as passed (the
// runner must not pass secrets) but clipped and folded to one line.
func TestReasonsAreBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, t.TempDir(), Options{})
	run, st := beginStep(t, j, "scan-1630")
	long := strings.Repeat("x", 5000) + "\xff"
	if err := j.RecordSync(ctx, HostOutcome{Run: run.ID, Step: st.ID, Host: "PC1", Action: "scan", Outcome: Script, Reason: long}); err != nil {
		t.Fatal(err)
	}
	rows, _ := j.HostOutcomes(ctx, Filter{Step: st.ID})
	if len(rows) != 1 || len([]rune(rows[0].Reason)) != 500 {
		t.Errorf("reason of %d runes", len([]rune(rows[0].Reason)))
	}
}

// sqlCount counts rows with a fresh connection (as another process would).
func sqlCount(t *testing.T, dir, query string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
