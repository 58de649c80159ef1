package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/alert"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/report/html"
	"github.com/patchnight/patchnight/pkg/wol"
)

// Benchmark is the published result of the restart method done by hand: more than 80%
// patched on the night (the 2008 write-up).
const Benchmark = 80.0

// Morning builds the morning report of the runner's run from the journal and the site
// database: the burn-down from the steps' measurements, and today's state of every machine
// in scope with what stopped the unpatched ones.
func (r *Runner) Morning(ctx context.Context) (*report.Morning, error) {
	run, err := r.Env.Journal.Run(ctx, r.run.ID)
	if err != nil {
		return nil, err
	}
	return BuildMorning(ctx, r, run)
}

// BuildMorning builds the morning report of run (any run of the journal) with r's site,
// group and scope.
func BuildMorning(ctx context.Context, r *Runner, run journal.Run) (*report.Morning, error) {
	j := r.Env.Journal
	m := &report.Morning{Generated: r.Env.Clock.Now().UTC(), Benchmark: Benchmark,
		Excluded: []report.Count{}, BurnDown: []report.BurnPoint{}, ByUpdate: []report.UpdateCompliance{},
		ByLocation: []report.GroupShare{}, Stopped: []report.Count{}, NeedsPerson: []report.HostIssue{}}
	pt, _ := time.ParseInLocation("2006-01-02", run.PatchTuesday, r.Loc)
	m.Run = report.MorningRun{ID: int64(run.ID), Plan: run.Plan, Month: run.Month, PatchTuesday: pt,
		Started: run.Started, Status: report.RunRunning, Site: r.Env.SiteCode}
	if !run.Finished.IsZero() {
		f := run.Finished
		m.Run.Finished = &f
		m.Run.Status = report.RunFinished
		if run.Status == journal.Failed || run.Status == journal.Aborted {
			m.Run.Status = report.RunFailed
		}
	}
	halts, err := j.Halts(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	for _, h := range halts {
		mh := report.MorningHalt{Step: h.Occurrence, Kind: h.Kind, Reason: h.Reason, At: h.At.In(r.Loc)}
		if !h.Resumed.IsZero() {
			t := h.Resumed.In(r.Loc)
			mh.Resumed = &t
		}
		m.Halts = append(m.Halts, mh)
	}
	steps, err := j.Steps(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	metrics, err := j.Metrics(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	followUp := map[journal.StepID]bool{} // the follow-up's steps: the follow-up report's, not the night's
	var nightEnd journal.Metric
	for _, s := range steps {
		mt, ok := metrics[s.ID]
		if night.InFollowUp(s.Occurrence) {
			followUp[s.ID] = true
			continue
		}
		if !ok {
			continue
		}
		if !mt.At.Before(nightEnd.At) {
			nightEnd = mt
		}
		if s.Step == baselineStep {
			m.BeforePct = share(mt.Patched, mt.Eligible)
			continue
		}
		if !burnDownAction(night.Action(s.Action)) && !movedBy(m.BurnDown, night.Action(s.Action), mt.Patched) {
			continue
		}
		at := s.Finished
		if at.IsZero() {
			at = mt.At
		}
		m.BurnDown = append(m.BurnDown, report.BurnPoint{Step: s.Occurrence, Label: r.stepLabel(s),
			At: at, Patched: mt.Patched, Eligible: mt.Eligible, PatchedPct: share(mt.Patched, mt.Eligible),
			Hosts: int64(s.Counts.Hosts), Failed: int64(s.Counts.Failed)})
	}
	if len(followUp) > 0 {
		m.AfterNight = &report.NightEnd{At: nightEnd.At, Patched: nightEnd.Patched, Eligible: nightEnd.Eligible,
			PatchedPct: share(nightEnd.Patched, nightEnd.Eligible), FollowUpSteps: len(followUp)}
	}
	if err := r.morningHosts(ctx, run, m, followUp, nil); err != nil {
		return nil, err
	}
	comp, err := report.ComplianceReport(ctx, r.Env.Site, report.Scope{Collection: r.scope, Group: r.group, Eligible: true,
		Exclude: r.exclusionIDs()})
	if err != nil {
		return nil, err
	}
	m.ByUpdate = comp.Updates
	return m, nil
}

// morningHosts fills the report's per-machine part from the journal and the site: the
// eligible and patched counts, by location, what stopped the others, who needs a person,
// the excluded counts and how the night's install jobs ended (the follow-up's steps,
// followUp, left out). unpatched, when not nil, is called with every eligible machine in
// scope that is not patched and the reason the report counts it under.
func (r *Runner) morningHosts(ctx context.Context, run journal.Run, m *report.Morning, followUp map[journal.StepID]bool, unpatched func(h hostState, reason string)) error {
	j := r.Env.Journal
	// What the journal knows per host: the last outcome per action, the last failed attempt,
	// the failure behind "retries exhausted" (the last failed attempt of the action whose
	// retries ran out: the step counts only that action's failures, FailedCounts), and the
	// notices delivered.
	last := map[string]map[string]journal.HostOutcome{}
	lastFailure := map[string]journal.HostOutcome{}
	actionFailure := map[string]journal.HostOutcome{} // by host and action
	behind := map[string]journal.HostOutcome{}
	installs := map[string]int64{}
	nights := map[string]hostNight{}
	err := j.EachHostOutcome(ctx, journal.Filter{Run: run.ID}, func(o journal.HostOutcome) error {
		if o.Action == actInstall && !followUp[o.Step] {
			if kind := installEnd(o); kind != "" {
				installs[kind]++
			}
		}
		k := strings.ToUpper(o.Host)
		nights[k] = nights[k].add(o)
		if o.Outcome.Failure() {
			lastFailure[k] = o
			actionFailure[k+"\x00"+o.Action] = o
		}
		if o.Outcome == journal.RetriesExhausted {
			behind[k] = actionFailure[k+"\x00"+o.Action]
		}
		if last[k] == nil {
			last[k] = map[string]journal.HostOutcome{}
		}
		last[k][o.Action] = o
		return nil
	})
	if err != nil {
		return err
	}
	notices := map[string]int{}
	if run.ID != 0 {
		if notices, err = j.DeliveredNotices(ctx, run.ID); err != nil {
			return err
		}
	}
	escalated := map[string]int{}
	if r.Env.Notifier != nil {
		if escalated, err = r.Env.Notifier.Escalated(ctx); err != nil {
			return err
		}
	}
	excluded := map[string]int64{}
	stopped := map[string]int64{}
	locations := map[string]*report.GroupShare{}
	planExcluded, err := r.ExcludedHosts(ctx)
	if err != nil {
		return err
	}
	err = r.eachState(ctx, func(h hostState) error {
		if x, out := planExcluded[h.ResourceID]; out {
			excluded["excluded by the plan: "+x.Collection]++
			return nil
		}
		if !h.Eligible {
			reason := "unhealthy client (client check failed)"
			if !h.Active {
				reason = "inactive client"
			}
			excluded[reason]++
			return nil
		}
		m.Eligible++
		loc := locations[h.Location]
		if loc == nil {
			loc = &report.GroupShare{Name: h.Location}
			locations[h.Location] = loc
		}
		loc.Eligible++
		if h.Patched() {
			m.Patched++
			loc.Patched++
			return nil
		}
		k := strings.ToUpper(h.Name)
		reason, issue := r.whyNot(h, last[k], escalated[k], lastFailure[k], behind[k], nights[k])
		if issue != nil {
			issue.Notices = notices[k]
		}
		stopped[reason]++
		if issue != nil {
			m.NeedsPerson = append(m.NeedsPerson, *issue)
		}
		if unpatched != nil {
			unpatched(h, reason)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.PatchedPct = share(m.Patched, m.Eligible)
	for k, v := range excluded {
		m.Excluded = append(m.Excluded, report.Count{Reason: k, Count: v})
	}
	for k, v := range stopped {
		m.Stopped = append(m.Stopped, report.Count{Reason: k, Count: v})
	}
	for k, v := range installs {
		m.Installs = append(m.Installs, report.Count{Reason: k, Count: v})
	}
	sortCounts(m.Excluded)
	sortCounts(m.Stopped)
	sortCounts(m.Installs)
	for _, l := range locations {
		l.PatchedPct = share(l.Patched, l.Eligible)
		m.ByLocation = append(m.ByLocation, *l)
	}
	sort.Slice(m.ByLocation, func(i, k int) bool { return m.ByLocation[i].Name < m.ByLocation[k].Name })
	sort.Slice(m.NeedsPerson, func(i, k int) bool { return m.NeedsPerson[i].Name < m.NeedsPerson[k].Name })
	return nil
}

// installEnd names how a followed install job ended, from its journal row ("" for rows
// that are not the end of a followed job: queued installs, unreachable hosts).
func installEnd(o journal.HostOutcome) string {
	switch {
	case o.Outcome == journal.PendingRestart:
		return "installed, pending restart"
	case o.Outcome == journal.StillRunning:
		return "install still running at the step's limit"
	case o.Outcome == journal.OutcomeFailed && strings.HasPrefix(o.Reason, "install failed"):
		return "install failed"
	case o.Outcome == journal.OutcomeOK && strings.HasPrefix(o.Reason, "installed, no restart needed"):
		return "installed, no restart needed"
	}
	return ""
}

// movedBy says whether a watcher pass belongs on the burn-down after all: it moved the
// patched count from the burn-down's last point. A watcher pass scans machines that came
// back (laptops back from home, a desktop in a closet switched on), whose required
// deployments then install by their deadline; without these points the burn-down would end
// below the headline.
func movedBy(points []report.BurnPoint, a night.Action, patched int64) bool {
	return a == night.NotifyScan && len(points) > 0 && points[len(points)-1].Patched != patched
}

// burnDownAction says whether a step belongs on the burn-down: the steps that act on the
// machines' patch state (scan, wake, install, restart), not the watcher's passes, notices,
// collection refreshes or the report, which would only add flat points.
func burnDownAction(a night.Action) bool {
	switch a {
	case night.Scan, night.Wake, night.Install, night.Restart, night.InstallAndRestart:
		return true
	}
	return false
}

// whyNot names the first reason that applies to an unpatched eligible machine, in the
// order the morning report lists them, and says whether a person should look at it.
// escalated is the machine's notice count when it was escalated, over every run (the
// escalation rule's count; 0: not escalated); lastFail is its last failed attempt of the
// night (zero when none); behind is the last failed attempt of the action whose retries
// ran out (zero when none).
func (r *Runner) whyNot(h hostState, last map[string]journal.HostOutcome, escalated int, lastFail, behind journal.HostOutcome, hn hostNight) (string, *report.HostIssue) {
	notices := escalated
	issue := &report.HostIssue{Name: h.Name, Location: h.Location, Missing: []string{}, ErrorCodes: []string{}}
	if h.LastOnline.Valid {
		t := h.LastOnline.Time
		issue.LastSeen = &t
	}
	if code := fleet.HResult(h.ErrorCode); code != "" {
		issue.ErrorCodes = append(issue.ErrorCodes, code)
	}
	// The failed scan's code too: "scan failed 0x8024401E" names it, the column must list it.
	if code := fleet.HResult(h.ScanError); h.ScanBucket == "failed" && code != "" && !slices.Contains(issue.ErrorCodes, code) {
		issue.ErrorCodes = append(issue.ErrorCodes, code)
	}
	if h.Required > 0 {
		issue.Missing = append(issue.Missing, fmt.Sprintf("%d updates of %s", h.Required, r.group.Title))
	}
	wake, woken := last[actWake]
	// reason is what the report counts the machine under; said, when set, is how the
	// machine's own line says it (the count's words with the detail the journal knows).
	var reason, said string
	person := false
	switch {
	case !h.Online && hn.notBack(h):
		reason = "did not come back after restart"
		person = true
	case !h.Online && woken && wake.Outcome != journal.OutcomeOK && !seenSince(h, wake.At):
		// Not when the site has seen it come online since the wake: it was up in the night
		// (a user switched it on, it was restarted), whatever the wake did.
		reason, said = notWoken(wake)
		person = true
	case !h.Online && hn.missedWave:
		reason = "offline at the wave"
	case !h.Online:
		reason = "offline"
	case h.ScanBucket == "failed" && h.ScanState == scanRunning && h.ScanError == 0:
		// Counted as "not scanned OK" for acting (reference section 3), but nothing failed:
		// the scan had not ended when the site last heard of it.
		reason = "scan still running"
	case h.ScanBucket == "failed":
		reason = "scan failed " + fleet.HResult(h.ScanError)
		person = true
	case !h.Known:
		reason = "scan not current"
	case h.Failed > 0:
		// Before "still running": updates the site shows failed are the reason a person
		// must look, even when another update's job was still running (issue 17).
		reason = "install failed " + fleet.HResult(h.ErrorCode)
		person = true
	case last[actInstall].Outcome == journal.StillRunning:
		// Not restarted: a restart would have lost the updates not yet installed.
		reason = "install still running at the step's limit"
	case h.PendingRestart > 0:
		reason = "pending restart"
	case hn.chained():
		reason = "chained update waiting for a restart"
	case last[actRestart].Outcome == journal.Deferred:
		reason = "logged-on deferral"
	case hn.missedWave:
		reason = "offline at the wave"
	case anyOutcome(last, journal.RetriesExhausted):
		reason = "retries exhausted"
		issue.Reasons = append(issue.Reasons, exhausted(behind))
		person = true
	case notices > 0:
		reason = "escalated"
		said = escalatedAfter(notices)
		person = true
	default:
		reason = "install not finished"
	}
	reason = strings.TrimSpace(reason)
	if said == "" {
		said = reason
	}
	if reason != "retries exhausted" {
		issue.Reasons = append(issue.Reasons, said)
	}
	if anyOutcome(last, journal.RetriesExhausted) && reason != "retries exhausted" {
		issue.Reasons = append(issue.Reasons, exhaustedAfter(said, behind))
		person = true
	}
	for _, f := range []journal.HostOutcome{lastFail, behind} {
		if code := fleet.HResult(f.ErrorCode); code != "" && !slices.Contains(issue.ErrorCodes, code) {
			issue.ErrorCodes = append(issue.ErrorCodes, code)
		}
	}
	if notices > 0 && reason != "escalated" {
		issue.Reasons = append(issue.Reasons, escalatedAfter(notices))
		person = true
	}
	if !person {
		return reason, nil
	}
	return reason, issue
}

// scanRunning is LastScanState 2, scan running (reference section 2, topic 501).
const scanRunning = 2

// escalatedAfter is the escalation's reason with its count: the notices about the machine's
// escalated updates over every run (the escalation rule's count), not the run's notices
// the Notices column counts.
func escalatedAfter(notices int) string {
	return fmt.Sprintf("escalated after %d notices (all runs)", notices)
}

// notWoken names why a wake left a machine asleep, from the wake step's journal row: the
// count's reason (reason) and the machine's line with the wake's own words (said). A
// machine the wake skipped (no usable MAC, no route to its subnet) or sent nothing to is a
// data or network problem to fix; "never woke" is for the machines that were sent
// packets and did not come up (a BIOS or NIC setting).
func notWoken(wake journal.HostOutcome) (reason, said string) {
	kind, detail, _ := strings.Cut(wake.Reason, "; ")
	switch {
	case wake.Outcome == journal.Skipped && kind == string(wol.OutcomeNoMAC):
		reason = "not woken: no usable MAC address"
	case wake.Outcome == journal.Skipped && kind == string(wol.OutcomeNoRoute):
		reason = "not woken: no route to its subnet"
	case kind == string(wol.OutcomeNotSent):
		reason = "not woken: packets not sent"
	default:
		return "never woke", ""
	}
	if detail == "" {
		return reason, reason
	}
	return reason, reason + " (" + detail + ")"
}

// hostNight is what the journal says of one machine's night, for the morning's reasons.
type hostNight struct {
	installed  time.Time // the last install that ended pending a restart (or installed)
	restarted  time.Time // the last restart the machine accepted
	missedWave bool      // an install or restart of the night found it unreachable
}

func (n hostNight) add(o journal.HostOutcome) hostNight {
	switch {
	case o.Action == actInstall && (o.Outcome == journal.PendingRestart || installEnd(o) == "installed, no restart needed"):
		n.installed = later(n.installed, o.At)
	case o.Action == actRestart && o.Outcome == journal.OutcomeOK:
		n.restarted = later(n.restarted, o.At)
	case (o.Action == actInstall || o.Action == actRestart) && o.Outcome == journal.Unreachable:
		n.missedWave = true
	}
	return n
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// notBack: the machine accepted a restart and the site has not seen it online since (its
// fast-channel last-online time is not after the restart).
func (n hostNight) notBack(h hostState) bool {
	if n.restarted.IsZero() {
		return false
	}
	return !h.LastOnline.Valid || !h.LastOnline.Time.After(n.restarted)
}

// seenSince: the site saw the machine come online after t (its fast-channel last-online time).
func seenSince(h hostState, t time.Time) bool {
	return h.LastOnline.Valid && h.LastOnline.Time.After(t)
}

// chained: the night installed the machine's updates and restarted it after that, and a
// scan since finds updates of the group required again: updates that became applicable
// only once the first were installed and restarted (a servicing stack before a cumulative
// update, .NET after the OS update), waiting for the next install and restart. The caller
// has ruled out failed and pending installs.
func (n hostNight) chained() bool {
	return !n.installed.IsZero() && n.restarted.After(n.installed)
}

// exhausted is the "retries exhausted" reason with the failure behind it: "retries
// exhausted; last failure: install unreachable: connection refused (0x80072EE2)". Each
// thing is said once: the journal's reason often starts with the action and outcome
// again ("install failed 0x80070643: 1 failed 0x80070643", "install: dial tcp ...") and
// names the code the text ends with; those repeats are left out.
func exhausted(f journal.HostOutcome) string {
	if f.Outcome == "" {
		return "retries exhausted"
	}
	head, detail, code := failureParts(f)
	s := "retries exhausted; last failure: " + head
	if detail != "" {
		s += ": " + detail
	}
	if code != "" {
		s += " (" + code + ")"
	}
	return s
}

// exhaustedAfter is exhausted for a machine whose line already says said: when said is the
// failure behind the exhausted retries ("install failed 0x80070643"), it is not said
// again.
func exhaustedAfter(said string, f journal.HostOutcome) string {
	head, detail, code := failureParts(f)
	if f.Outcome == "" || strings.TrimSpace(head+" "+code) != said {
		return exhausted(f)
	}
	if detail == "" {
		return "retries exhausted on the same failure"
	}
	return "retries exhausted on the same failure: " + detail
}

// failureParts splits a failed attempt's journal row into what failed ("install
// failed"), the reason's own detail without the head or code again, and the code.
func failureParts(f journal.HostOutcome) (head, detail, code string) {
	head, code = f.Action+" "+string(f.Outcome), fleet.HResult(f.ErrorCode)
	detail = strings.TrimSpace(f.Reason)
	for _, p := range []string{head, f.Action + ":"} {
		if rest, ok := strings.CutPrefix(detail, p); ok && (rest == "" || strings.ContainsAny(rest[:1], " :")) {
			detail = rest
			break
		}
	}
	if code != "" {
		detail = strings.ReplaceAll(detail, " "+code, "")
		detail = strings.ReplaceAll(strings.ReplaceAll(detail, code, ""), " ,", ",")
	}
	return head, strings.Trim(detail, " :;,"), code
}

func anyOutcome(last map[string]journal.HostOutcome, o journal.Outcome) bool {
	for _, x := range last {
		if x.Outcome == o {
			return true
		}
	}
	return false
}

func sortCounts(c []report.Count) {
	sort.Slice(c, func(i, k int) bool {
		if c[i].Count != c[k].Count {
			return c[i].Count > c[k].Count
		}
		return c[i].Reason < c[k].Reason
	})
}

func share(num, den int64) float64 {
	if den == 0 {
		return 0
	}
	return float64(int64(1000*float64(num)/float64(den)+0.5)) / 10
}

// stepLabel is "20:00 install-and-restart (nobody-logged-on-now)": the planned time first,
// which the burn-down's axis reads.
func (r *Runner) stepLabel(s journal.Step) string {
	label := s.Planned.In(r.Loc).Format("15:04") + " " + s.Action
	for _, o := range r.timeline {
		if o.ID == s.Occurrence && o.Step.Target != "" {
			label += " (" + string(o.Step.Target) + ")"
		}
	}
	return label
}

// baselineStep is the journal step that holds the measurement before the night.
const baselineStep = "before-night"

// Baseline measures the patched share before the first step, once per run; it opens the
// run if needed. Night and Step call it when the first step is due, never earlier.
func (r *Runner) Baseline(ctx context.Context) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	first := r.timeline[0].Time
	st, _, err := r.Env.Journal.BeginStep(ctx, journal.StepSpec{Run: r.run.ID, Step: baselineStep, Occurrence: baselineStep,
		Action: "measure", Planned: first})
	if err != nil {
		return err
	}
	if st.Done() {
		return nil
	}
	if _, err := r.measure(ctx, st.ID); err != nil {
		return err
	}
	_, err = r.Env.Journal.FinishStep(ctx, st.ID, journal.OK, "patched share before the night")
	return err
}

// report writes the morning report to the state folder (HTML and JSON) and notes the headline.
func (r *Runner) report(ctx context.Context) (string, journal.Status, error) {
	m, err := r.Morning(ctx)
	if err != nil {
		return "", journal.Failed, err
	}
	sent := r.sendMorning(ctx, m)
	if r.Env.StateDir == "" {
		return joinNote(report.Headline(m), sent), journal.OK, nil
	}
	paths, err := WriteMorning(r.Env.StateDir, m)
	if err != nil {
		return "", journal.Failed, err
	}
	return joinNote(report.Headline(m)+"; written to "+strings.Join(paths, " and "), sent), journal.OK, nil
}

// sendMorning mails the report (HTML inline, JSON attached) and posts it to the webhook;
// a delivery failure is logged by the dispatcher and only noted here.
func (r *Runner) sendMorning(ctx context.Context, m *report.Morning) string {
	if r.Env.Alert == nil || len(r.Env.Alert.Sinks) == 0 {
		return ""
	}
	var h bytes.Buffer
	if err := html.Morning(&h, m); err != nil {
		r.Env.Log.Error("morning report not rendered for mail", "error", err)
		return "report not sent: " + err.Error()
	}
	js, err := json.Marshal(m)
	if err != nil {
		return "report not sent: " + err.Error()
	}
	subject := fmt.Sprintf("patchnight %s %s: %s", r.Env.SiteCode, m.Run.Month, report.Headline(m))
	n := r.Env.Alert.Send(ctx, alert.Message{Kind: alert.KindReport, Subject: subject, Text: report.Headline(m),
		HTML: h.Bytes(), JSON: js, JSONName: "morning-" + m.Run.Month + ".json", At: r.Env.Clock.Now()})
	return fmt.Sprintf("report sent to %d of %d channels", n, len(r.Env.Alert.Sinks))
}

// WriteMorning writes morning-YYYY-MM.html and .json into dir, each through a temporary
// file so that a reader never sees half a report.
func WriteMorning(dir string, m *report.Morning) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("morning report: %w", err)
	}
	var h bytes.Buffer
	if err := html.Morning(&h, m); err != nil {
		return nil, fmt.Errorf("morning report: %w", err)
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("morning report: %w", err)
	}
	base := filepath.Join(dir, "morning-"+m.Run.Month)
	var out []string
	for _, f := range []struct {
		path string
		b    []byte
	}{{base + ".html", h.Bytes()}, {base + ".json", js}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, f.b, 0o600); err != nil {
			return nil, fmt.Errorf("morning report: %w", err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("morning report: %w", err)
		}
		out = append(out, f.path)
	}
	return out, nil
}
