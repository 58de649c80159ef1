package runner

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/sitecoll"
)

// MessedHost is a machine the follow-up calls messed up (night.Messed): it failed its
// installs with the same error code again and again, over days.
type MessedHost struct {
	Host       string                `json:"host"`
	ResourceID int64                 `json:"resource_id,omitempty"`
	ErrorCode  int64                 `json:"error_code"`
	History    []journal.HostOutcome `json:"history"` // every failed install of the month, oldest first; for a scan, the scans asked for
	// Kind is what fails again and again: "install" (the journal's failed installs) or
	// "scan" (the site still shows the machine's scan failed with ErrorCode after the
	// scans the night and the follow-up asked for, as many and over as many days as the
	// rule wants).
	Kind string `json:"kind"`
	// online is whether the fast channel shows the machine online now: a client repair is
	// asked of online machines only.
	online bool
}

// MessedUp applies the plan's messed-up rule to the month's failed installs in the journal
// (night and follow-up), in host order, among the eligible machines the site shows not
// patched now: a machine patched since (a client repair cleared its fault, a person saw to
// it) is no longer messed up, and gets no more repairs. Machines the plan's exclusions hold
// now are left out, as the night's counts leave them out. A plan without a follow-up has
// no rule: nil.
func (r *Runner) MessedUp(ctx context.Context) ([]MessedHost, error) {
	if r.Plan.FollowUp == nil || r.run.ID == 0 || r.group == nil || r.group.CIID == 0 {
		return nil, nil
	}
	rule := r.Plan.FollowUp.MessedUp
	excluded, err := r.ExcludedHosts(ctx)
	if err != nil {
		return nil, err
	}
	unpatched := map[string]hostState{}
	err = r.eachState(ctx, func(h hostState) error {
		if _, x := excluded[h.ResourceID]; x {
			return nil
		}
		if h.Eligible && !h.Patched() {
			unpatched[strings.ToUpper(h.Name)] = h
		}
		return nil
	})
	if err != nil || len(unpatched) == 0 {
		return nil, err
	}
	byHost := map[string][]journal.HostOutcome{}
	// Failed installs, and installs still running at the step's limit whose batch already
	// had failed updates (their code): both are the same failure again.
	for _, oc := range []journal.Outcome{journal.OutcomeFailed, journal.StillRunning} {
		err := r.Env.Journal.EachHostOutcome(ctx, journal.Filter{Run: r.run.ID, Action: actInstall, Outcome: oc},
			func(o journal.HostOutcome) error {
				if o.Outcome == journal.StillRunning && o.ErrorCode == 0 {
					return nil
				}
				if k := strings.ToUpper(o.Host); unpatched[k].Name != "" {
					byHost[k] = append(byHost[k], o)
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	for _, h := range byHost {
		sort.SliceStable(h, func(i, j int) bool { return h[i].At.Before(h[j].At) })
	}
	var out []MessedHost
	listed := map[string]bool{}
	for k, h := range byHost {
		codes := make([]int64, len(h))
		ats := make([]time.Time, len(h))
		for i, o := range h {
			codes[i], ats[i] = o.ErrorCode, o.At
		}
		if rule.IsMessedUp(codes, ats, r.Loc) {
			last := h[len(h)-1]
			out = append(out, MessedHost{Host: last.Host, ResourceID: last.ResourceID, ErrorCode: last.ErrorCode, History: h, Kind: actInstall,
				online: unpatched[k].Online})
			listed[k] = true
		}
	}
	scans, err := r.messedScans(ctx, rule, unpatched, listed)
	if err != nil {
		return nil, err
	}
	out = append(out, scans...)
	sort.Slice(out, func(i, j int) bool { return strings.ToUpper(out[i].Host) < strings.ToUpper(out[j].Host) })
	return out, nil
}

// messedScans are the machines whose scan the site still shows failed now, after the scans
// the follow-up asked for: those requests and now must satisfy the rule (attempts, days).
// Only the follow-up's requests count: the follow-up scans only machines still missing the
// night's updates or behind on their scan, so each of its requests found the machine still
// in trouble, where a scan of the night may have passed. Machines the install rule named
// already (listed) are not named twice; a machine with failed installs that the install
// rule does not name (a failed install on the night, then only failed scans) is still
// named here.
func (r *Runner) messedScans(ctx context.Context, rule night.Messed, unpatched map[string]hostState, listed map[string]bool) ([]MessedHost, error) {
	failed := map[string]hostState{}
	for k, h := range unpatched {
		if h.ScanBucket == "failed" && h.ScanError != 0 {
			failed[k] = h
		}
	}
	if len(failed) == 0 {
		return nil, nil
	}
	steps, err := r.Env.Journal.Steps(ctx, r.run.ID)
	if err != nil {
		return nil, err
	}
	followUp := map[journal.StepID]bool{}
	for _, s := range steps {
		followUp[s.ID] = night.InFollowUp(s.Occurrence)
	}
	asked := map[string][]journal.HostOutcome{}
	err = r.Env.Journal.EachHostOutcome(ctx, journal.Filter{Run: r.run.ID, Action: actScan, Outcome: journal.OutcomeOK},
		func(o journal.HostOutcome) error {
			if k := strings.ToUpper(o.Host); failed[k].Name != "" && followUp[o.Step] {
				asked[k] = append(asked[k], o)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	var out []MessedHost
	for k, h := range asked {
		if listed[k] {
			continue
		}
		st := failed[k]
		// The scans asked for, and now: the site still shows the scan failed with its
		// code (the failure of each earlier scan is not in the journal, only the request).
		codes := make([]int64, len(h)+1)
		ats := make([]time.Time, len(h)+1)
		for i, o := range h {
			codes[i], ats[i] = st.ScanError, o.At
		}
		codes[len(h)], ats[len(h)] = st.ScanError, r.Env.Clock.Now()
		if rule.IsMessedUp(codes, ats, r.Loc) {
			out = append(out, MessedHost{Host: st.Name, ResourceID: st.ResourceID, ErrorCode: st.ScanError, History: h, Kind: actScan,
				online: st.Online})
		}
	}
	return out, nil
}

// followUpMessed runs after a follow-up install step: the messed-up machines are added to
// the needs-attention collection (when the runner has the SMS Provider) and named in the
// step's note.
func (r *Runner) followUpMessed(ctx context.Context, occ night.Occurrence) (string, []MessedHost, error) {
	if !night.InFollowUp(occ.StepID) || !occ.Step.Action.Installs() {
		return "", nil, nil
	}
	hosts, err := r.MessedUp(ctx)
	if err != nil || len(hosts) == 0 {
		return "", nil, err
	}
	var names []string
	var members []sitecoll.Member
	for _, h := range hosts {
		names = append(names, fmt.Sprintf("%s (0x%08X x%d)", h.Host, uint32(h.ErrorCode), len(h.History)))
		if h.ResourceID > 0 {
			members = append(members, sitecoll.Member{ResourceID: h.ResourceID, Name: h.Host})
		}
	}
	note := fmt.Sprintf("%d messed up: %s", len(hosts), strings.Join(names, ", "))
	if r.Env.Provider == nil || len(members) == 0 {
		return note + "; not added to the needs-attention collection (no SMS Provider)", hosts, nil
	}
	id, err := notify.AddToNeedsAttention(ctx, r.Env.Site, r.Env.Provider, members, r.Env.Clock.Now())
	if err != nil {
		r.Env.Log.Warn("messed-up machines not added to the needs-attention collection", "error", err)
		return note + "; not added to the needs-attention collection: " + oneLine(err.Error()), hosts, nil
	}
	return note + "; in needs-attention collection " + id, hosts, nil
}

// FollowUpDays is how many days after Patch Tuesday the long-tail report covers at least
// (D0..D+21); a follow-up that runs later (in a month of five weeks between Patch
// Tuesdays) extends it to its last day (ReportDays).
const FollowUpDays = 21

// ReportDays is the last day, counted from Patch Tuesday, that the long-tail report of the
// runner's month covers: D+21, or the follow-up's last day when that is later.
func (r *Runner) ReportDays() int {
	last := FollowUpDays
	if r.Plan != nil && r.Plan.FollowUp != nil {
		if days := r.Plan.FollowUpDays(r.Month); len(days) > 0 && days[len(days)-1] > last {
			last = days[len(days)-1]
		}
	}
	return last
}

// FollowUpDay is the patched share at the end of one day since Patch Tuesday: the last
// measurement the journal holds from that day or before (the runner measures after every
// step of the night and of the follow-up). Days after the journal's last measurement have
// no figure (Measured false).
type FollowUpDay struct {
	Day        int       `json:"day"`  // 0 = Patch Tuesday
	Date       string    `json:"date"` // YYYY-MM-DD in the plan's zone
	Measured   bool      `json:"measured"`
	Eligible   int64     `json:"eligible"`
	Patched    int64     `json:"patched"`
	PatchedPct float64   `json:"patched_pct"`
	At         time.Time `json:"at,omitzero"` // the measurement used
}

// FollowUpReport is `patchnight report follow-up`: the long tail of a month's night.
type FollowUpReport struct {
	Plan         string        `json:"plan"`
	Month        string        `json:"month"`
	PatchTuesday string        `json:"patch_tuesday"`
	Days         []FollowUpDay `json:"days"`
	// SeenSinceNight is the patched share of the machines seen online since the night
	// began (issue 17's acceptance figure), measured from the site now.
	SeenSinceNight *SeenShare   `json:"seen_since_night,omitempty"`
	MessedUp       []MessedHost `json:"messed_up"`

	// The same daily figures by location and by machine kind (followup_breakdown.go).
	ByLocation    []FollowUpSeries `json:"by_location"`
	ByKind        []FollowUpSeries `json:"by_kind"`
	BreakdownNote string           `json:"breakdown_note,omitempty"` // why kinds are unknown or days lack a breakdown
	// NotSeen are the eligible machines not seen online since the night began
	// (NotSeenSince), with when they were last seen (Runner.NotSeen).
	NotSeenSince time.Time     `json:"not_seen_since"`
	NotSeen      []NotSeenHost `json:"not_seen"`
	// Unpatched are the machines seen since the night that are still not patched, each
	// with its reason: messed up with its error, or the morning report's reason (escalated,
	// install failed with its code, offline at the step, ...). With NotSeen, every
	// eligible machine not patched is listed (issue 17).
	Unpatched []UnpatchedHost `json:"unpatched"`
}

// UnpatchedHost is a machine seen since the night and still not patched, and why.
type UnpatchedHost struct {
	Host       string `json:"host"`
	ResourceID int64  `json:"resource_id"`
	Location   string `json:"location"`
	Reason     string `json:"reason"`
}

// BuildFollowUp builds the long-tail report of the runner's month from the journal.
func BuildFollowUp(ctx context.Context, r *Runner) (*FollowUpReport, error) {
	rep := &FollowUpReport{Plan: r.Plan.Name, Month: r.Month.String(), PatchTuesday: r.Month.PatchTuesday(r.Loc).Format("2006-01-02"),
		Days: []FollowUpDay{}, MessedUp: []MessedHost{}, Unpatched: []UnpatchedHost{}}
	var metrics []journal.Metric
	if r.run.ID != 0 {
		all, err := r.Env.Journal.Metrics(ctx, r.run.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range all {
			metrics = append(metrics, m)
		}
	}
	sort.Slice(metrics, func(i, j int) bool {
		if !metrics[i].At.Equal(metrics[j].At) {
			return metrics[i].At.Before(metrics[j].At)
		}
		return metrics[i].Step < metrics[j].Step
	})
	for d := 0; d <= r.ReportDays(); d++ {
		y, mo, dd := r.Month.Date(d)
		end := time.Date(y, mo, dd+1, 0, 0, 0, 0, r.Loc)
		day := FollowUpDay{Day: d, Date: time.Date(y, mo, dd, 0, 0, 0, 0, time.UTC).Format("2006-01-02")}
		start := time.Date(y, mo, dd, 0, 0, 0, 0, r.Loc)
		for _, m := range metrics {
			if !m.At.Before(end) {
				break
			}
			day.Measured, day.Eligible, day.Patched, day.At = true, m.Eligible, m.Patched, m.At
		}
		if len(metrics) > 0 && metrics[len(metrics)-1].At.Before(start) {
			// A day the journal has not reached yet (the night is still under way, or
			// nothing ran since): no figure rather than a stale one.
			day = FollowUpDay{Day: d, Date: day.Date}
		}
		if day.Eligible > 0 {
			day.PatchedPct = math.Round(1000*float64(day.Patched)/float64(day.Eligible)) / 10
		}
		rep.Days = append(rep.Days, day)
	}
	rep.NotSeenSince = r.NightStart()
	notSeen, err := r.NotSeen(ctx)
	if err != nil {
		return nil, err
	}
	rep.NotSeen = notSeen
	if r.group != nil && r.group.CIID != 0 {
		seen, err := r.SeenSinceNight(ctx, rep.NotSeen)
		if err != nil {
			return nil, err
		}
		rep.SeenSinceNight = &seen
	}
	if err := r.followUpBreakdown(ctx, rep, metrics); err != nil {
		return nil, err
	}
	messed, err := r.MessedUp(ctx)
	if err != nil {
		return nil, err
	}
	if messed != nil {
		rep.MessedUp = messed
	}
	if rep.Unpatched, err = r.unpatchedSeen(ctx, rep.NotSeen, messed); err != nil {
		return nil, err
	}
	return rep, nil
}

// unpatchedSeen lists, in name order, the eligible machines in scope seen since the night
// (not in notSeen) and not patched, each with its reason: messed up with its error first,
// else the morning report's reason for it.
func (r *Runner) unpatchedSeen(ctx context.Context, notSeen []NotSeenHost, messed []MessedHost) ([]UnpatchedHost, error) {
	out := []UnpatchedHost{}
	if r.run.ID == 0 || r.group == nil || r.group.CIID == 0 {
		return out, nil
	}
	run, err := r.Env.Journal.Run(ctx, r.run.ID)
	if err != nil {
		return nil, err
	}
	unseen := make(map[int64]bool, len(notSeen))
	for _, h := range notSeen {
		unseen[h.ResourceID] = true
	}
	why := make(map[string]string, len(messed))
	for _, m := range messed {
		why[strings.ToUpper(m.Host)] = fmt.Sprintf("messed up: %s failed 0x%08X, %d times", m.Kind, uint32(m.ErrorCode), len(m.History))
	}
	err = r.morningHosts(ctx, run, &report.Morning{}, nil, func(h hostState, reason string) {
		if unseen[h.ResourceID] {
			return
		}
		if w, ok := why[strings.ToUpper(h.Name)]; ok {
			reason = w
		}
		out = append(out, UnpatchedHost{Host: h.Name, ResourceID: h.ResourceID, Location: h.Location, Reason: reason})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToUpper(out[i].Host) < strings.ToUpper(out[j].Host) })
	return out, nil
}

// unpatchedGrid is the report's table of the machines seen since the night and still not
// patched.
func (f *FollowUpReport) unpatchedGrid() output.Grid {
	g := output.Grid{Title: fmt.Sprintf("Seen since the night and still not patched: %d machines", len(f.Unpatched)),
		Header: []string{"Host", "Location", "Reason"}}
	for _, h := range f.Unpatched {
		g.Rows = append(g.Rows, []string{h.Host, h.Location, h.Reason})
	}
	return g
}

// Grids is the report as tables: the share by day, by location and by machine kind, then
// the messed-up machines.
func (f *FollowUpReport) Grids() []output.Grid {
	g := output.Grid{Title: fmt.Sprintf("Follow-up of the night of %s (plan %s, Patch Tuesday %s): patched share by day", f.Month, f.Plan, f.PatchTuesday),
		Header: []string{"Day", "Date", "Patched", "Eligible", "Share"}}
	for _, d := range f.Days {
		share, p, e := "-", "-", "-"
		if d.Measured {
			share, p, e = fmt.Sprintf("%.1f%%", d.PatchedPct), fmt.Sprint(d.Patched), fmt.Sprint(d.Eligible)
		}
		g.Rows = append(g.Rows, []string{fmt.Sprintf("D+%d", d.Day), d.Date, p, e, share})
	}
	m := output.Grid{Title: fmt.Sprintf("Messed-up machines (%d): the same install or scan error again and again", len(f.MessedUp)),
		Header: []string{"Host", "Fails", "Error", "Times", "First", "Last"}}
	loc := f.NotSeenSince.Location() // the plan's zone, as the other tables (the journal keeps UTC)
	for _, h := range f.MessedUp {
		m.Rows = append(m.Rows, []string{h.Host, h.Kind, fmt.Sprintf("0x%08X", uint32(h.ErrorCode)), fmt.Sprint(len(h.History)),
			h.History[0].At.In(loc).Format("2006-01-02 15:04"), h.History[len(h.History)-1].At.In(loc).Format("2006-01-02 15:04")})
	}
	grids := append([]output.Grid{g}, f.breakdownGrids()...)
	if s := f.SeenSinceNight; s != nil {
		grids = append(grids, output.Grid{
			Title:  "Patched share of the machines seen online since the night began (" + s.Since.Format("2006-01-02 15:04") + ")",
			Header: []string{"Seen", "Patched", "Share", "Not seen", "Eligible"},
			Rows: [][]string{{fmt.Sprint(s.Seen), fmt.Sprint(s.Patched), fmt.Sprintf("%.1f%%", s.PatchedPct),
				fmt.Sprint(s.NotSeen), fmt.Sprint(s.Eligible)}},
		})
	}
	return append(grids, m, f.unpatchedGrid(), f.notSeenGrid())
}

// withScanBehind adds to a follow-up scan step's targets the machines behind on their scan
// (selector scan-behind: no current, successful scan; within the step's collection and
// without the plan's exclusions). A machine back after days away, or one whose scan failed
// (repaired or not), is not "missing updates" on the site until it scans against the
// current catalog, so without this no follow-up step would ever scan, and then patch, it.
func (r *Runner) withScanBehind(ctx context.Context, occ night.Occurrence, targets []target) ([]target, error) {
	if r.Plan.FollowUp == nil || occ.Step.Action != night.Scan || !night.InFollowUp(occ.StepID) {
		return targets, nil
	}
	behind, err := r.targets(ctx, string(night.ScanBehind), occ.Step.Collection)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, t := range targets {
		have[strings.ToUpper(t.Name)] = true
	}
	for _, t := range behind {
		if k := strings.ToUpper(t.Name); !have[k] {
			targets = append(targets, t)
			have[k] = true
		}
	}
	return targets, nil
}

// followUpOnline keeps, in a follow-up step, the targets the site shows online now (the
// fast channel's CNIsOnline): issue 17's follow-up acts on "machines that are online and
// still miss the night's updates". It wakes nobody, so a call to a machine that is off
// only costs the step a host timeout and the journal an "unreachable" row; the next
// follow-up step tries the machine again. Other steps keep every target.
func followUpOnline(occ night.Occurrence, targets []target) []target {
	if !night.InFollowUp(occ.StepID) {
		return targets
	}
	kept := targets[:0:0]
	for _, t := range targets {
		if t.Online {
			kept = append(kept, t)
		}
	}
	return kept
}
