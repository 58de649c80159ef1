package runner_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/internal/smtptest"
	"github.com/patchnight/patchnight/pkg/alert"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/runner"
)

// guardedPlan is shortPlan with a canary (two machines per location) and halt rules.
const guardedPlan = `canary: {per_location: 2, timeout: 30m}
halt: {not_back_percent: 20, window: 1h, same_error_percent: 50, min_hosts: 3}
` + shortPlan

// labSQL runs statements on the lab database before it is served.
func labSQL(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// noComeBack30 gives 30% of the machines of every location (the 1st, 4th and 7th of each
// ten, in name order) the NoComeBack fault: they stay off after a restart.
const noComeBack30 = `UPDATE lab_host SET NoComeBack = 1 WHERE ResourceID IN (
	SELECT ResourceID FROM (SELECT ResourceID, ROW_NUMBER() OVER (PARTITION BY Location ORDER BY Name) - 1 AS n FROM lab_host)
	WHERE n % 10 IN (0, 3, 6))`

// nightOnly is the default fault mix without the machines away for days: the guard's tests
// stage one night's failure on 80 machines, and a laptop at home or a desktop off for a
// holiday would take a machine out of the 20:00 canary (which is up to 16) by the chance of
// the seed, and move the halt to another wave.
func nightOnly() *lab.FaultRates {
	f := lab.DefaultFaults()
	f.Home, f.Closet, f.Holiday = 0, 0, 0
	return &f
}

// webhookSink collects the webhook's posts.
type webhookSink struct {
	mu    sync.Mutex
	posts []map[string]any
}

func (w *webhookSink) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		http.Error(rw, "not json", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.posts = append(w.posts, doc)
	w.mu.Unlock()
}

func (w *webhookSink) kinds() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var k []string
	for _, p := range w.posts {
		s, _ := p["kind"].(string)
		k = append(k, s)
	}
	return k
}

// withAlerts wires a real SMTP server (aiosmtpd) and a loopback webhook into the runner.
func withAlerts(t *testing.T, e *env) (*smtptest.Server, *webhookSink) {
	t.Helper()
	smtp := smtptest.Start(t, smtptest.Plain)
	hook := &webhookSink{}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)
	m, err := alert.NewMailer(alert.MailConfig{Server: smtp.Host, Port: smtp.Port, TLS: alert.TLSNone,
		From: "patchnight@lab.example", To: []string{"desktop-team@lab.example"}, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w, err := alert.NewWebhook(alert.WebhookConfig{URL: hs.URL + "/hook/TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	e.run.Env.Alert = &alert.Dispatcher{Sinks: []alert.Sink{m, w}, Sleep: func(context.Context, time.Duration) error { return nil }}
	return smtp, hook
}

// labRestartCount returns the machines the lab saw restarted (not refused), by ResourceID,
// with how many times, between from and to (lab clock text).
func labRestartCount(t testing.TB, path, from, to string) map[int64]int {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT ResourceID, COUNT(*) FROM lab_event WHERE Action = 'restart' AND Detail LIKE 'restarted%'
		AND Time >= ? AND Time < ? GROUP BY ResourceID`, from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	return out
}

// canaryOf returns the machines the step acted on (journal rows of any action), by ResourceID.
func canaryOf(t testing.TB, j *journal.DB, run journal.RunID, occurrence string) map[int64]bool {
	t.Helper()
	ctx := context.Background()
	steps, err := j.Steps(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]bool{}
	for _, s := range steps {
		if s.Occurrence != occurrence {
			continue
		}
		rows, err := j.HostOutcomes(ctx, journal.Filter{Step: s.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out[r.ResourceID] = true
		}
	}
	return out
}

// TestCanaryHaltsTheNight is issue 16's first acceptance test, and its variant with an
// update that fails everywhere with one code: the night halts after the canary of the
// 20:00 wave, no machine outside the canary is restarted (the lab's event log), the alert
// reaches the SMTP server and the webhook, the later install and restart steps are held,
// and the morning report leads with the halt and its reason.
func TestCanaryHaltsTheNight(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		fault    string
		kind     string
		restarts bool // the canary's machines were restarted before the halt
	}{
		{"30% do not come back", noComeBack30, runner.HaltNotBack, true},
		{"one code everywhere", `UPDATE lab_host SET InstallFault = -2145124318`, runner.HaltSameError, false}, // 0x80240022
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := buildLabWith(t, 80, nightOnly())
			labSQL(t, path, tc.fault)
			state := filepath.Join(t.TempDir(), "state")
			e := newEnvPlan(t, path, state, guardedPlan, nil)
			defer e.close()
			smtp, hook := withAlerts(t, e)
			ctx := context.Background()
			if err := e.run.Night(ctx); err != nil {
				t.Fatal(err)
			}
			run := e.run.Run().ID
			halts, err := e.j.Halts(ctx, run)
			if err != nil {
				t.Fatal(err)
			}
			if len(halts) != 1 || halts[0].Occurrence != "install-logged-off" || halts[0].Kind != tc.kind || !halts[0].Active() {
				t.Fatalf("halts %+v: want one active %s halt in install-logged-off", halts, tc.kind)
			}
			steps, err := e.j.Steps(ctx, run)
			if err != nil {
				t.Fatal(err)
			}
			ran := map[string]journal.Status{}
			for _, s := range steps {
				ran[s.Occurrence] = s.Status
			}
			if ran["install-logged-off"] != journal.Halted {
				t.Errorf("the halted step ended %q", ran["install-logged-off"])
			}
			for _, held := range []string{"install-logged-on", "retry-restart"} {
				if st, ok := ran[held]; ok {
					t.Errorf("step %s ran (%s) while the night was halted", held, st)
				}
			}
			for _, other := range []string{"retry-scan", "morning-report"} {
				if _, ok := ran[other]; !ok {
					t.Errorf("step %s, neither an install nor a restart, did not run after the halt", other)
				}
			}
			// No machine outside the canary restarted, by the lab's own record.
			canary := canaryOf(t, e.j, run, "install-logged-off")
			restarted := labRestartCount(t, path, "2026-12-08 00:00:00", "2026-12-10 00:00:00")
			for id := range restarted {
				if !canary[id] {
					t.Errorf("machine %d restarted outside the canary", id)
				}
			}
			if tc.restarts && len(restarted) == 0 {
				t.Error("the canary restarted nothing: the test proves nothing")
			}
			if !tc.restarts && len(restarted) > 0 {
				t.Errorf("%d machines restarted although every install failed", len(restarted))
			}
			if n := len(canary); n == 0 || n > 2*8 {
				t.Errorf("canary of %d machines", n)
			}
			// The alert reached the SMTP server and the webhook.
			var haltMail, reportMail bool
			for _, m := range smtp.Messages(t) {
				subj := m.Header.Get("Subject")
				switch {
				case strings.Contains(subj, "HALTED") && strings.Contains(subj, "install-logged-off") && !strings.Contains(subj, "Patched on the night"):
					haltMail = true
				case strings.Contains(subj, "Patched on the night"):
					reportMail = strings.HasPrefix(strings.TrimPrefix(subj, "patchnight LAB 2026-12: "), "HALTED in install-logged-off")
				}
			}
			if !haltMail || !reportMail {
				t.Errorf("mail: halt %v, report leading with the halt %v", haltMail, reportMail)
			}
			if k := hook.kinds(); len(k) != 2 || k[0] != "halt" || k[1] != "report" {
				t.Errorf("webhook posts %v, want halt then report", k)
			}
			// The morning report leads with the halt and its reason.
			m, err := e.run.Morning(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Halts) != 1 || m.Halts[0].Reason != halts[0].Reason {
				t.Fatalf("report halts %+v", m.Halts)
			}
			if h := report.Headline(m); !strings.HasPrefix(h, "HALTED in install-logged-off") || !strings.Contains(h, halts[0].Reason) {
				t.Errorf("headline %q does not lead with the halt", h)
			}
			page, err := os.ReadFile(filepath.Join(state, "morning-2026-12.html"))
			if err != nil {
				t.Fatal(err)
			}
			body := page[bytes.Index(page, []byte("<body")):]
			if i := bytes.Index(body, []byte("This night halted in install-logged-off")); i < 0 || i > bytes.Index(body, []byte("Patched on the night")) {
				t.Error("the HTML report does not lead with the halt")
			}
		})
	}
}

// stopAt is a clock that ends the night (cancels it) when it would sleep past a time: the
// process that ran the night until the halt was stopped.
type stopAt struct {
	runner.Clock
	at     time.Time
	cancel context.CancelFunc
}

func (s stopAt) Sleep(ctx context.Context, d time.Duration) error {
	if s.Now().Add(d).After(s.at) {
		s.cancel()
		return context.Canceled
	}
	return s.Clock.Sleep(ctx, d)
}

// TestResumeAfterHalt: the night halts in the 20:00 wave and stops; the machines are
// repaired; `night --resume` (Resume, then Night, in a new runner on the same journal)
// continues with the next step, and no machine is restarted twice in a step.
func TestResumeAfterHalt(t *testing.T) {
	t.Parallel()
	path := buildLabWith(t, 80, nightOnly())
	labSQL(t, path, noComeBack30)
	e := newEnvPlan(t, path, filepath.Join(t.TempDir(), "state"), guardedPlan, nil)
	defer e.close()
	withAlerts(t, e)
	inner := e.run.Env.Clock
	ctx, cancel := context.WithCancel(context.Background())
	e.run.Env.Clock = stopAt{inner, time.Date(2026, 12, 8, 22, 59, 0, 0, time.UTC), cancel}
	if err := e.run.Night(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the first night ended with %v, want it stopped", err)
	}
	run := e.run.Run().ID
	if _, ok, err := e.j.ActiveHalt(context.Background(), run); err != nil || !ok {
		t.Fatalf("no active halt after the 20:00 wave: %v", err)
	}
	// The admin had the machines seen to (they were powered off by facilities).
	if _, err := e.site.DB.Exec(`UPDATE lab_host SET NoComeBack = 0`); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	env := e.run.Env
	env.Clock = inner
	p, err := night.Parse("test-night.yaml", []byte(guardedPlan))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := runner.New(bg, p, time.UTC, e.run.Month, env)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r2.Resume(bg); err != nil || n != 1 {
		t.Fatalf("Resume = %d, %v", n, err)
	}
	if err := r2.Night(bg); err != nil {
		t.Fatal(err)
	}
	steps, err := e.j.Steps(bg, run)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]journal.Step{}
	for _, s := range steps {
		status[s.Occurrence] = s
	}
	if s := status["install-logged-off"]; s.Status != journal.Halted || s.Resumes != 0 {
		t.Errorf("the halted step was run again: %+v", s)
	}
	next := status["install-logged-on"]
	if !next.Done() || next.Status == journal.Halted || next.Counts.Hosts == 0 {
		t.Errorf("the next step did not run after the resume: %+v", next)
	}
	if _, ok, _ := e.j.ActiveHalt(bg, run); ok {
		t.Error("the night halted again after the resume")
	}
	if twice := restartsTwice(t, e.j, run); len(twice) > 0 {
		t.Errorf("hosts restarted twice in a step: %v", twice)
	}
	// The canary's machines were not restarted again by the 20:00 step or the 23:00 one.
	for id, n := range labRestartCount(t, path, "2026-12-08 20:00:00", "2026-12-09 01:00:00") {
		if n > 1 {
			t.Errorf("the lab saw machine %d restarted %d times before 01:00", id, n)
		}
	}
	if len(labRestartCount(t, path, "2026-12-08 23:00:00", "2026-12-09 01:00:00")) == 0 {
		t.Error("the resumed night restarted nothing in the 23:00 step")
	}
}
