package runner_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"html"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lab/labprovider"
	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
	rhtml "github.com/patchnight/patchnight/pkg/report/html"
)

// dayClock is the demo's clock: sleeping also lets the lab's working day begin (users log
// on, so notices are delivered) and re-evaluates collections at most hourly.
type dayClock struct {
	c    *labsite.Clock
	site *labsite.Site
	last time.Time
}

func (d *dayClock) Now() time.Time { return d.c.Now() }
func (d *dayClock) Sleep(ctx context.Context, dur time.Duration) error {
	d.c.Advance(dur)
	return d.settle(ctx)
}
func (d *dayClock) settle(ctx context.Context) error {
	if err := d.site.Sim.Tick(ctx); err != nil {
		return err
	}
	if err := d.site.Morning(ctx); err != nil {
		return err
	}
	if now := d.c.Now(); now.Sub(d.last) >= time.Hour {
		d.last = now
		_, err := labprovider.Refresh(ctx, d.site.DB, now)
		return err
	}
	return nil
}

// TestMorningReportConsistency runs the default plan (the restart method, notices
// included) on a lab of consistencyHosts machines and checks every total, column and share
// of the morning report's table, JSON and HTML forms against the journal and the lab's own
// tables, and the step lines the night printed.
func TestMorningReportConsistency(t *testing.T) {
	t.Parallel()
	path := buildLab(t, consistencyHosts)
	state := filepath.Join(t.TempDir(), "state")
	p := night.Default()
	e := newEnvEarly(t, path, state, shortPlan, 10*time.Minute, nil) // the wiring; the plan is replaced below
	defer e.close()
	ctx := context.Background()
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	lc := e.run.Env.Clock.(labClock)
	lc.c.Set(night.Timeline(p, month, time.UTC)[0].Time.Add(-10 * time.Minute))
	dc := &dayClock{c: lc.c, site: e.site}
	var lines bytes.Buffer
	r := dayRunner(t, e, p, month, dc, &lines)
	if err := r.Night(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := r.Morning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run := r.Run().ID

	// The lab's own tables: eligible, patched, excluded, per location.
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	const inScope = `FROM lab_host h JOIN lab_collection_member cm ON cm.ResourceID = h.ResourceID AND cm.CollectionID = 'LAB00010'
		WHERE h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0`
	var members, eligible int64
	if err := raw.QueryRow(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN h.Active = 1 AND h.ClientCheckPass = 1 THEN 1 ELSE 0 END), 0) `+inScope).
		Scan(&members, &eligible); err != nil {
		t.Fatal(err)
	}
	if m.Eligible != eligible {
		t.Errorf("eligible %d, the lab says %d", m.Eligible, eligible)
	}
	var excluded int64
	for _, c := range m.Excluded {
		excluded += c.Count
	}
	if m.Eligible+excluded != members {
		t.Errorf("eligible %d + excluded %d != %d client machines in the collection", m.Eligible, excluded, members)
	}
	if m.Eligible == members {
		t.Errorf("no machine is excluded: the lab should have inactive and unhealthy clients")
	}

	// Totals and shares agree with each other.
	var stopped, locElig, locPatched int64
	for _, c := range m.Stopped {
		stopped += c.Count
	}
	if stopped != m.Unpatched() {
		t.Errorf("stopped reasons count %d machines, %d are unpatched", stopped, m.Unpatched())
	}
	for _, l := range m.ByLocation {
		locElig += l.Eligible
		locPatched += l.Patched
		if l.PatchedPct != roundShare(l.Patched, l.Eligible) {
			t.Errorf("location %s: %.1f%%, %d of %d is %.1f%%", l.Name, l.PatchedPct, l.Patched, l.Eligible, roundShare(l.Patched, l.Eligible))
		}
	}
	if locElig != m.Eligible || locPatched != m.Patched {
		t.Errorf("locations add up to %d of %d, the headline is %d of %d", locPatched, locElig, m.Patched, m.Eligible)
	}
	if m.PatchedPct != roundShare(m.Patched, m.Eligible) {
		t.Errorf("headline %.1f%% is not %d of %d", m.PatchedPct, m.Patched, m.Eligible)
	}
	if len(m.ByUpdate) == 0 {
		t.Fatal("no per-update rows")
	}
	for _, u := range m.ByUpdate {
		// Fault: the rows were over the collection (1,984 in the demo), not the 1,890 eligible.
		if sum := u.Required + u.Installed + u.NotRequired + u.Unknown; sum != m.Eligible || u.Clients != m.Eligible {
			t.Errorf("update %s: %d required + %d installed + %d not required + %d unknown = %d over %d clients; eligible %d",
				u.ArticleID, u.Required, u.Installed, u.NotRequired, u.Unknown, sum, u.Clients, m.Eligible)
		}
		if u.Required > m.Unpatched() {
			t.Errorf("update %s is required by %d machines, only %d are unpatched", u.ArticleID, u.Required, m.Unpatched())
		}
	}

	// The burn-down against the journal's steps and measurements.
	steps, err := e.j.Steps(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := e.j.Metrics(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	byOcc := map[string]journal.Step{}
	for _, s := range steps {
		byOcc[s.Occurrence] = s
	}
	for _, b := range m.BurnDown {
		s := byOcc[b.Step]
		mt := metrics[s.ID]
		if b.Hosts != int64(s.Counts.Hosts) || b.Failed != int64(s.Counts.Failed) || b.Patched != mt.Patched || b.Eligible != mt.Eligible {
			t.Errorf("burn-down %s: %d hosts, %d failed, %d of %d patched; the journal says %d, %d, %d of %d",
				b.Step, b.Hosts, b.Failed, b.Patched, b.Eligible, s.Counts.Hosts, s.Counts.Failed, mt.Patched, mt.Eligible)
		}
	}
	// The burn-down ends at the headline: the watcher's passes that moved the figure (machines
	// back from days away, scanned and patched by their deadline) are on it.
	if last := m.BurnDown[len(m.BurnDown)-1]; last.Patched != m.Patched {
		t.Errorf("the burn-down ends at %d patched, the headline says %d", last.Patched, m.Patched)
	}
	watcher := 0
	for _, b := range m.BurnDown {
		if night.Action(byOcc[b.Step].Action) == night.NotifyScan {
			watcher++
		}
	}
	if watcher == 0 {
		t.Error("no watcher pass on the burn-down: the default lab's machines back from days away should move the figure after 10:00")
	}

	// Needs a person: notices and the failure behind "retries exhausted", from the journal.
	notices, err := e.j.Notices(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	told := map[string]map[time.Time]bool{}
	for _, n := range notices {
		if n.Run != run || !n.Delivered {
			continue
		}
		k := strings.ToUpper(n.Host)
		if told[k] == nil {
			told[k] = map[time.Time]bool{}
		}
		told[k][n.At] = true
	}
	// The failure behind a host's exhausted retries: the last failure of the action whose
	// retries ran out (a step counts only that action's failures), not a later restart's.
	exhausted := map[string]journal.HostOutcome{}
	lastFail := map[string]journal.HostOutcome{} // by host and action
	err = e.j.EachHostOutcome(ctx, journal.Filter{Run: run}, func(o journal.HostOutcome) error {
		k := strings.ToUpper(o.Host) + " " + o.Action
		if o.Outcome.Failure() {
			lastFail[k] = o
		}
		if o.Outcome == journal.RetriesExhausted {
			exhausted[strings.ToUpper(o.Host)] = lastFail[k]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var noticed, withExhausted int
	for _, h := range m.NeedsPerson {
		k := strings.ToUpper(h.Name)
		// Fault: the column was 0 for every machine while the journal held delivered notices.
		if h.Notices != len(told[k]) {
			t.Errorf("%s: Notices %d, the journal holds %d delivered notices of the run", h.Name, h.Notices, len(told[k]))
		}
		if h.Notices > 0 {
			noticed++
		}
		if f, ok := exhausted[k]; ok {
			withExhausted++
			// Fault: "retries exhausted" hid the failure behind it. When the machine's first
			// reason already names that failure with its code, it is not said again.
			head := f.Action + " " + string(f.Outcome)
			want := "retries exhausted; last failure: " + head
			same := len(h.Reasons) > 0 && h.Reasons[0] == strings.TrimSpace(head+" "+fleet.HResult(f.ErrorCode)) &&
				containsPrefix(h.Reasons, "retries exhausted on the same failure")
			if !containsPrefix(h.Reasons, want) && !same {
				t.Errorf("%s: reasons %q do not show the last failure %q", h.Name, h.Reasons, want)
			}
		}
	}
	if noticed == 0 {
		t.Errorf("no machine that needs a person was told anything; the lab's night delivers notices (%d machines told)", len(told))
	}
	if len(exhausted) > 0 && withExhausted == 0 {
		t.Errorf("%d machines ran out of retries, none is listed as needing a person", len(exhausted))
	}

	// The table form: every grid's numbers are the model's.
	grids := m.Grids()
	summary := map[string]string{}
	for _, row := range grids[0].Rows {
		summary[row[0]] = row[1]
	}
	for k, want := range map[string]int64{"Patched": m.Patched, "Not patched": m.Unpatched(),
		"Needs a person": int64(len(m.NeedsPerson)), "Eligible machines (active, healthy clients in the target collection)": m.Eligible} {
		if summary[k] != strconv.FormatInt(want, 10) {
			t.Errorf("table %q = %q, want %d", k, summary[k], want)
		}
	}
	for i, row := range grids[2].Rows {
		var sum int64
		for _, c := range row[3:7] {
			v, _ := strconv.ParseInt(c, 10, 64)
			sum += v
		}
		if sum != m.Eligible {
			t.Errorf("table by update, row %d (%s): columns add up to %d, eligible %d", i, row[0], sum, m.Eligible)
		}
	}
	if got := grids[4].Footer; len(got) < 2 || got[1] != strconv.FormatInt(m.Unpatched(), 10) {
		t.Errorf("stopped table footer %v, want %d", got, m.Unpatched())
	}
	for i, row := range grids[5].Rows {
		if want := strconv.Itoa(len(told[strings.ToUpper(row[0])])); row[5] != want {
			t.Errorf("table needs-a-person row %d (%s): Notices %s, journal %s", i, row[0], row[5], want)
		}
	}
	var table bytes.Buffer
	if err := output.Write(&table, output.Table, m); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(table.String(), report.Headline(m)); n != 1 {
		t.Errorf("the table prints the headline %d times, want once", n)
	}

	// The JSON form.
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Eligible int64 `json:"eligible"`
		Patched  int64 `json:"patched"`
		ByUpdate []struct {
			Required, Installed, NotRequired, Unknown int64
		} `json:"by_update"`
		NeedsPerson []struct {
			Name    string `json:"name"`
			Notices int    `json:"notices"`
		} `json:"needs_person"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Eligible != eligible || doc.Patched != m.Patched || len(doc.ByUpdate) != len(m.ByUpdate) {
		t.Errorf("JSON: %d of %d patched, %d updates", doc.Patched, doc.Eligible, len(doc.ByUpdate))
	}
	for _, h := range doc.NeedsPerson {
		if h.Notices != len(told[strings.ToUpper(h.Name)]) {
			t.Errorf("JSON %s: notices %d, journal %d", h.Name, h.Notices, len(told[strings.ToUpper(h.Name)]))
		}
	}

	// The HTML form: the headline figures and the Notices column.
	var page bytes.Buffer
	if err := rhtml.Morning(&page, m); err != nil {
		t.Fatal(err)
	}
	body := html.UnescapeString(page.String())
	for _, want := range []string{report.HeadlinePercent(m), "of " + report.Thousands(m.Eligible) + " eligible machines"} {
		if !strings.Contains(body, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	rows := regexp.MustCompile(`<tr><td class="nowrap strong">([^<]+)</td>.*?<td class="num">([0-9]*)</td>`).FindAllStringSubmatch(body, -1)
	if len(rows) == 0 {
		t.Error("HTML: no needs-a-person rows")
	}
	for _, row := range rows {
		want := ""
		if n := len(told[strings.ToUpper(row[1])]); n > 0 {
			want = strconv.Itoa(n)
		}
		if row[2] != want {
			t.Errorf("HTML %s: Notices %q, journal %q", row[1], row[2], want)
		}
	}

	// The step lines say what "ok" means and what a barrier's share is of.
	for _, line := range strings.Split(lines.String(), "\n") {
		if strings.Contains(line, " ok, ") {
			t.Errorf("a step line with a bare ok: %q", line)
		}
		if strings.Contains(line, "barrier") && !strings.Contains(line, "target machines") {
			t.Errorf("a barrier line that does not say of what: %q", line)
		}
	}
	for _, want := range []string{"scan started", "installed (restarting, or no restart needed)", "restarting,"} {
		if !strings.Contains(lines.String(), want) {
			t.Errorf("no step line says %q:\n%s", want, lines.String())
		}
	}
}

func roundShare(num, den int64) float64 {
	if den == 0 {
		return 0
	}
	return float64(int64(1000*float64(num)/float64(den)+0.5)) / 10
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
