package night

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
)

// Occurrence is one run of a step: a step without a repeat has one; a repeating step has one
// per interval, named STEP-HHMM (retry-restart-0100, retry-restart-0400).
type Occurrence struct {
	ID     string // task name and `patchnight run ID`: the step ID, or STEP-HHMM for a repeating step
	StepID string // the step it belongs to
	Index  int    // 0-based position in the step's series
	Count  int    // occurrences in the series (1 without a repeat)
	At     When   // plan time
	Step   Step   // the step's definition

	// Set by Timeline (zero in Plan.Occurrences):
	Month Month     // the plan month (one run of the plan per month)
	Time  time.Time // the instant in the plan's zone
	Moved bool      // the written time fell in a daylight-saving gap: Time is the end of the gap
}

// Repeating reports whether the occurrence is part of a repeating series.
func (o Occurrence) Repeating() bool { return o.Step.Repeat != nil }

// Deadline is the time by which the occurrence must end (Time + the step's limit).
func (o Occurrence) Deadline() time.Time { return o.Time.Add(o.Step.Limit) }

// Occurrences expands the plan's repeats into occurrences in time order (plan times only).
// Repeats count on the wall clock: every 3h from PT+1 01:00 is 01:00 and 04:00 local time,
// even if a daylight-saving change lies between.
func (p *Plan) Occurrences() []Occurrence {
	var out []Occurrence
	for _, s := range p.Steps {
		if s.Repeat == nil || s.Repeat.Every <= 0 {
			out = append(out, Occurrence{ID: s.ID, StepID: s.ID, Count: 1, At: s.At, Step: s})
			continue
		}
		var series []Occurrence
		for w := s.At; w.Compare(s.Repeat.Until) <= 0 && len(series) <= maxOccurrences; w = w.add(s.Repeat.Every) {
			series = append(series, Occurrence{
				ID: fmt.Sprintf("%s-%02d%02d", s.ID, w.Minute/60, w.Minute%60), StepID: s.ID,
				Index: len(series), At: w, Step: s,
			})
		}
		for i := range series {
			series[i].Count = len(series)
		}
		out = append(out, series...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Compare(out[j].At) < 0 })
	return out
}

// Timeline is the plan's night in month m with real dates and times in loc, in time order.
func Timeline(p *Plan, m Month, loc *time.Location) []Occurrence {
	occ := p.Occurrences()
	for i := range occ {
		occ[i].Month = m
		occ[i].Time, occ[i].Moved = occ[i].At.At(m, loc)
	}
	return occ
}

// Due returns the timeline's occurrences whose time has come at now (Time <= now), in order.
// The runner of a whole night skips those the journal shows finished.
func Due(timeline []Occurrence, now time.Time) []Occurrence {
	var out []Occurrence
	for _, o := range timeline {
		if !o.Time.After(now) {
			out = append(out, o)
		}
	}
	return out
}

// Next returns the first occurrence of the timeline after now.
func Next(timeline []Occurrence, now time.Time) (Occurrence, bool) {
	for _, o := range timeline {
		if o.Time.After(now) {
			return o, true
		}
	}
	return Occurrence{}, false
}

// NightMonth is the month whose night is under way or next at now: the month of now, or the
// previous month while that month's last step (PT+N offsets may reach into the next month)
// has not ended, or the next month once this month's night is over.
func NightMonth(p *Plan, now time.Time, loc *time.Location) Month {
	cur := MonthOf(now.In(loc))
	for _, m := range []Month{cur.AddMonths(-1), cur} {
		tl := Timeline(p, m, loc)
		if len(tl) > 0 && !tl[len(tl)-1].Deadline().Before(now) {
			return m
		}
	}
	return cur.AddMonths(1)
}

// startTolerance lets a task that fires a moment early still pick its own occurrence.
const startTolerance = 2 * time.Minute

// Decision is the answer of the day check for `patchnight run ID`.
type Decision struct {
	// Due is true when ID has an occurrence on now's date (in the plan's zone): run it.
	// A task that fires on the wrong day gets Due false, and the runner exits 0 after
	// logging Reason.
	Due bool
	// Early is true when the occurrence is today but later than now (a run started by hand
	// ahead of time; scheduled tasks never fire early).
	Early bool
	// Occurrence is the one to run when Due; otherwise the next one (zero if none is known).
	Occurrence Occurrence
	// Reason is one log line saying what was decided and why.
	Reason string
}

// StepFor answers the day check for `patchnight run ID` at now. ID is a step ID or an
// occurrence ID (retry-restart-0400). The occurrence is looked for in the night of the
// previous, current and next month, so that steps that reach into the next month are found.
// For a step ID with several occurrences today, the latest one that has started (within
// 2 minutes' tolerance) is chosen, else the first of the day. An unknown ID is a usage error.
func StepFor(p *Plan, id string, now time.Time, loc *time.Location) (Decision, error) {
	known := p.followUpStep(id) || InFollowUp(id) && p.FollowUp != nil && followUpOccurrence(p, id)
	for _, o := range p.Occurrences() {
		if o.ID == id || o.StepID == id {
			known = true
			break
		}
	}
	if !known {
		return Decision{}, exit.Usagef("patchnight plan show lists the step and occurrence IDs", "plan %s has no step %q", p.Name, id)
	}
	local := now.In(loc)
	y, mo, d := local.Date()
	cur := MonthOf(local)
	var today, later []Occurrence
	for _, m := range []Month{cur.AddMonths(-1), cur, cur.AddMonths(1), cur.AddMonths(2)} {
		for _, o := range append(Timeline(p, m, loc), FollowUpTimeline(p, m, loc)...) {
			if o.ID != id && o.StepID != id {
				continue
			}
			oy, om, od := o.Time.In(loc).Date()
			if oy == y && om == mo && od == d {
				today = append(today, o)
			} else if o.Time.After(now) {
				later = append(later, o)
			}
		}
	}
	if len(today) == 0 {
		dec := Decision{Reason: fmt.Sprintf("step %s is not due today (%s in %s)", id, local.Format("Mon 2006-01-02"), zoneName(loc))}
		if len(later) > 0 {
			dec.Occurrence = later[0]
			dec.Reason += fmt.Sprintf("; its next run is %s (Patch Tuesday %s); nothing to do", later[0].Time.In(loc).Format("Mon 2006-01-02 15:04 MST"), later[0].Month.PatchTuesday(loc).Format("2006-01-02"))
		} else {
			dec.Reason += "; nothing to do"
		}
		return dec, nil
	}
	chosen, early := today[0], true
	for _, o := range today {
		if !o.Time.After(now.Add(startTolerance)) {
			chosen, early = o, false
		}
	}
	dec := Decision{Due: true, Early: early, Occurrence: chosen}
	at := chosen.Time.In(loc).Format("Mon 2006-01-02 15:04 MST")
	if early {
		dec.Reason = fmt.Sprintf("running %s (planned %s, %s) ahead of its time", chosen.ID, chosen.At, at)
	} else {
		dec.Reason = fmt.Sprintf("running %s (planned %s, %s)", chosen.ID, chosen.At, at)
	}
	return dec, nil
}

func zoneName(loc *time.Location) string {
	if loc == nil {
		return "UTC"
	}
	return loc.String()
}

// Calendar is a plan's night in one month, for `plan show --month`: a table or JSON.
type Calendar struct {
	Plan         string          `json:"plan"`
	Source       string          `json:"source"`
	Month        Month           `json:"month"`
	TimeZone     string          `json:"time_zone"`
	PatchTuesday string          `json:"patch_tuesday"` // YYYY-MM-DD
	Steps        []CalendarEntry `json:"steps"`
	// FollowUp is the plan's follow-up (issue 17): one entry per follow-up step, at its
	// first run, Of = the number of follow-up days.
	FollowUp []CalendarEntry `json:"follow_up,omitempty"`
}

// CalendarEntry is one occurrence in a Calendar.
type CalendarEntry struct {
	ID         string    `json:"id"`
	Step       string    `json:"step"`
	At         When      `json:"at"`
	Start      time.Time `json:"start"` // RFC 3339 with the zone's offset
	Date       string    `json:"date"`  // YYYY-MM-DD
	Clock      string    `json:"time"`  // HH:MM local
	Action     Action    `json:"action"`
	Target     string    `json:"target,omitempty"`
	Options    string    `json:"options,omitempty"`
	Limit      string    `json:"limit"`
	Note       string    `json:"note,omitempty"`
	Repeat     string    `json:"repeat,omitempty"`
	Occurrence int       `json:"occurrence"` // 1-based position in the series
	Of         int       `json:"of"`         // occurrences in the series
}

// NewCalendar builds the calendar of plan p in month m in loc.
func NewCalendar(p *Plan, m Month, loc *time.Location) Calendar {
	c := Calendar{Plan: p.Name, Source: p.Source, Month: m, TimeZone: zoneName(loc),
		PatchTuesday: m.PatchTuesday(loc).Format("2006-01-02")}
	for _, o := range Timeline(p, m, loc) {
		t := o.Time.In(loc)
		e := CalendarEntry{
			ID: o.ID, Step: o.StepID, At: o.At, Start: t, Date: t.Format("2006-01-02"),
			Clock: t.Format("15:04"), Action: o.Step.Action, Target: TargetText(o.Step),
			Options: OptionsText(o.Step), Limit: durationText(o.Step.Limit),
			Occurrence: o.Index + 1, Of: o.Count,
		}
		if o.Step.Repeat != nil {
			e.Repeat = fmt.Sprintf("every %s until %s", durationText(o.Step.Repeat.Every), o.Step.Repeat.Until)
		}
		if o.Moved {
			e.Note = fmt.Sprintf("%s does not exist that day (clocks go forward): runs at %s", o.At.Clock(), t.Format("15:04 MST"))
		}
		c.Steps = append(c.Steps, e)
	}
	// The follow-up: one entry per follow-up step, at its first day, with the days it runs.
	tl := FollowUpTimeline(p, m, loc)
	for _, s := range p.FollowUpSteps() {
		var first, last time.Time
		n := 0
		for _, o := range tl {
			if o.StepID != s.ID {
				continue
			}
			if n == 0 {
				first = o.Time.In(loc)
			}
			last = o.Time.In(loc)
			n++
		}
		if n == 0 {
			continue
		}
		c.FollowUp = append(c.FollowUp, CalendarEntry{ID: s.ID, Step: s.ID, At: When{Day: p.FollowUp.From, Minute: s.At.Minute},
			Start: first, Date: first.Format("2006-01-02"), Clock: first.Format("15:04"), Action: s.Action, Target: TargetText(s),
			Options: OptionsText(s), Limit: durationText(s.Limit), Occurrence: 1, Of: n,
			Repeat: fmt.Sprintf("on %d follow-up days, %s to %s", n, first.Format("Mon 01-02"), last.Format("Mon 01-02"))})
	}
	return c
}

// Grids renders the calendar as one table.
func (c Calendar) Grids() []output.Grid {
	g := output.Grid{
		Title:  fmt.Sprintf("Plan %s, %s: Patch Tuesday %s (times in %s)", c.Plan, c.Month, c.PatchTuesday, c.TimeZone),
		Header: []string{"Step", "Plan time", "Date", "Time", "Action", "Target", "Options", "Limit"},
	}
	for _, e := range c.Steps {
		opts := e.Options
		if e.Of > 1 {
			opts = join("; ", fmt.Sprintf("%d of %d, %s", e.Occurrence, e.Of, e.Repeat), opts)
		}
		opts = join("; ", opts, e.Note)
		date, _ := time.Parse("2006-01-02", e.Date)
		g.Rows = append(g.Rows, []string{e.ID, e.At.String(), date.Format("Mon 2006-01-02"), e.Clock,
			string(e.Action), e.Target, opts, e.Limit})
	}
	if len(c.FollowUp) == 0 {
		return []output.Grid{g}
	}
	f := output.Grid{
		Title:  fmt.Sprintf("Follow-up after the night of %s: the machines still missing updates, on each follow-up day", c.Month),
		Header: []string{"Step", "Time", "Days", "Action", "Target", "Options", "Limit"},
	}
	for _, e := range c.FollowUp {
		f.Rows = append(f.Rows, []string{e.ID, e.Clock, e.Repeat, string(e.Action), e.Target, e.Options, e.Limit})
	}
	return []output.Grid{g, f}
}

func join(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

// TargetText describes a step's hosts: "nobody-logged-on-now", "collection ABC00012",
// "logged-on in collection Pilot"; "" for steps without hosts.
func TargetText(s Step) string {
	switch {
	case s.Target != "" && s.Collection != "":
		return fmt.Sprintf("%s in collection %s", s.Target, s.Collection)
	case s.Collection != "":
		return "collection " + s.Collection
	}
	return string(s.Target)
}

// OptionsText summarises a step's options on one line (repeats excepted).
func OptionsText(s Step) string {
	var parts []string
	if b := s.Barrier; b != nil {
		parts = append(parts, fmt.Sprintf("wait for %d%% %s or %s", b.Percent, b.Condition, durationText(b.Timeout)))
	}
	if s.Action.OnHosts() && s.Action != NotifyScan && s.Action != NotifyMissing {
		parts = append(parts, fmt.Sprintf("retries %d", s.MaxRetries))
	}
	if s.RestartPrompt {
		parts = append(parts, "user restart prompt")
	}
	if s.OnlyIfNobodyLoggedOn {
		parts = append(parts, "only if nobody logged on")
	}
	if s.Via != ChannelAuto {
		parts = append(parts, "via "+string(s.Via))
	}
	return strings.Join(parts, "; ")
}

// durationText writes 45m, 3h, 1h15m.
func durationText(d time.Duration) string {
	h := int(d / time.Hour)
	m := int(d % time.Hour / time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}
