package night

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FollowUp is the plan's follow-up after the night (issue 17): from day From after Patch
// Tuesday until EndBefore days before the next Patch Tuesday, at each of Times (in working
// hours) on each follow-up day, the machines online then (it wakes nobody) and still
// missing the night's updates get, in order: the notice policy (a notify-missing step, so
// the same counting, minimum interval, quiet hours and escalation as the Thursday notice:
// one ledger for the night and the follow-up), a scan, and an install with the restart
// prompt. With AfterHours, an install-and-restart runs outside working hours on the same
// days, on logged-on machines too (as the night's 23:00 wave does: the restart method
// restarts them at night).
//
// The follow-up expands into ordinary steps (FollowUpSteps) whose occurrences are dated per
// day (FollowUpTimeline): `patchnight run follow-up-notice-1030` runs today's occurrence,
// and the scheduled tasks fire on every follow-up weekday.
type FollowUp struct {
	From      int    `json:"from"`       // first day, days after Patch Tuesday (at least 2)
	EndBefore int    `json:"end_before"` // the last day is the next Patch Tuesday minus this many days
	Weekdays  bool   `json:"weekdays"`   // Monday to Friday only (default); false = every day
	WorkStart int    `json:"work_start"` // working hours, minutes after midnight
	WorkEnd   int    `json:"work_end"`
	Times     []int  `json:"times"`                 // notice times, minutes after midnight, in working hours
	AfterHrs  *int   `json:"after_hours,omitempty"` // install-and-restart time outside working hours; nil = none
	MessedUp  Messed `json:"messed_up"`
	// RepairClient asks for a ConfigMgr client repair of messed-up machines. The repair
	// method (SMS_Client.RepairClient) is NOT in the reference (configmgr.md): unconfirmed,
	// so plan validate and doctor warn when it is on. When on, each follow-up install step
	// asks the messed-up machines for a repair (at most once every runner.RepairEvery per
	// machine); the client-repair script checks that the client's SMS_Client class has the
	// method and answers "not available" when it has not.
	RepairClient bool `json:"repair_client,omitempty"`
}

// Messed is the rule that calls a machine "messed up": the same install error code on at
// least Attempts follow-up (or night) attempts, the first and last at least Days calendar
// days apart. Such machines are listed apart with their error history (the follow-up install
// step's note, runner.MessedUp) and added to the needs-attention collection; they are still
// tried on the next follow-up days.
type Messed struct {
	Attempts int `json:"attempts"`
	Days     int `json:"days"`
}

// Follow-up defaults.
const (
	DefaultFollowUpFrom      = 2
	DefaultFollowUpEndBefore = 7
	DefaultWorkStart         = 8 * 60
	DefaultWorkEnd           = 17 * 60
	DefaultMessedAttempts    = 3
	DefaultMessedDays        = 2
	// Offsets of the scan and the install after each follow-up notice time.
	followUpScanAfter    = 10 * time.Minute
	followUpInstallAfter = 40 * time.Minute
	followUpNoticeLimit  = 10 * time.Minute
	followUpScanLimit    = 25 * time.Minute
	followUpInstallLimit = 1 * time.Hour
	followUpNightLimit   = 2 * time.Hour
	maxFollowUpTimes     = 8
)

// RepairUnconfirmed is what plan validate and doctor say when a plan asks for client repair.
const RepairUnconfirmed = "follow_up repair_client: SMS_Client.RepairClient is not in the ConfigMgr reference (unconfirmed): each client is checked for the method before it is called, and a client without it is reported \"not available\""

// IsMessedUp applies the rule to one machine's failed attempts of one update, oldest first
// (the error code and the time of each attempt): true when its latest attempts failed with
// one error code at least Attempts times in a row, the first and last of that run at least
// Days calendar days apart in loc. The whole run counts, not only its last Attempts: a
// machine tried three times a day that keeps failing the same way stays messed up.
func (m Messed) IsMessedUp(codes []int64, at []time.Time, loc *time.Location) bool {
	if m.Attempts < 2 || len(codes) < m.Attempts || len(codes) != len(at) {
		return false
	}
	n := len(codes)
	code := codes[n-1]
	if code == 0 {
		return false
	}
	start := n - 1
	for start > 0 && codes[start-1] == code {
		start--
	}
	if n-start < m.Attempts {
		return false
	}
	first, last := at[start].In(loc), at[n-1].In(loc)
	fd := time.Date(first.Year(), first.Month(), first.Day(), 12, 0, 0, 0, time.UTC)
	ld := time.Date(last.Year(), last.Month(), last.Day(), 12, 0, 0, 0, time.UTC)
	return int(ld.Sub(fd).Hours()/24+0.5) >= m.Days
}

func clockText(minute int) string { return fmt.Sprintf("%02d:%02d", minute/60, minute%60) }

// FollowUpSteps is the follow-up as steps (no day: FollowUpTimeline dates them), in time
// order. Their IDs are follow-up-notice-HHMM, follow-up-scan-HHMM, follow-up-install-HHMM
// and follow-up-night-HHMM.
func (p *Plan) FollowUpSteps() []Step {
	f := p.FollowUp
	if f == nil {
		return nil
	}
	var out []Step
	for _, t := range f.Times {
		scan, inst := t+int(followUpScanAfter/time.Minute), t+int(followUpInstallAfter/time.Minute)
		out = append(out,
			Step{ID: "follow-up-notice-" + strings.ReplaceAll(clockText(t), ":", ""), At: When{Minute: t}, Action: NotifyMissing,
				Target: MissingUpdates, Limit: followUpNoticeLimit, MaxRetries: DefaultMaxRetries,
				Description: "Follow-up: users of machines still missing the night's updates are told (the notice policy; escalation after the threshold)"},
			Step{ID: "follow-up-scan-" + strings.ReplaceAll(clockText(scan), ":", ""), At: When{Minute: scan}, Action: Scan,
				Target: MissingUpdates, Limit: followUpScanLimit, MaxRetries: DefaultMaxRetries,
				Description: "Follow-up: machines still missing the night's updates, and those behind on their scan (back after days away, or a failed scan), scan"},
			Step{ID: "follow-up-install-" + strings.ReplaceAll(clockText(inst), ":", ""), At: When{Minute: inst}, Action: Install,
				Target: MissingUpdates, RestartPrompt: true, Limit: followUpInstallLimit, MaxRetries: DefaultMaxRetries,
				Description: "Follow-up: install the missing updates and prompt the user to restart"},
		)
	}
	if f.AfterHrs != nil {
		out = append(out, Step{ID: "follow-up-night-" + strings.ReplaceAll(clockText(*f.AfterHrs), ":", ""), At: When{Minute: *f.AfterHrs},
			Action: InstallAndRestart, Target: MissingUpdates, Limit: followUpNightLimit, MaxRetries: DefaultMaxRetries,
			Description: "Follow-up outside working hours: install and restart the machines still missing updates (as the night's logged-on wave does)"})
	}
	slices.SortStableFunc(out, func(a, b Step) int { return a.At.Minute - b.At.Minute })
	return out
}

// FollowUpDays is the follow-up's days in month m's night, as day offsets from Patch Tuesday:
// From until the next Patch Tuesday minus EndBefore, weekends left out when Weekdays.
func (p *Plan) FollowUpDays(m Month) []int {
	f := p.FollowUp
	if f == nil {
		return nil
	}
	pt := time.Date(m.Year, m.Month, m.PatchTuesdayDay(), 12, 0, 0, 0, time.UTC)
	n := m.AddMonths(1)
	next := time.Date(n.Year, n.Month, n.PatchTuesdayDay(), 12, 0, 0, 0, time.UTC)
	return f.days(int(next.Sub(pt).Hours()/24 + 0.5))
}

// days is the follow-up's days when the next Patch Tuesday is gap days after this one (28
// or 35): From until gap - EndBefore, weekends left out when Weekdays (PT+d is a Tuesday
// plus d days).
func (f *FollowUp) days(gap int) []int {
	var out []int
	for d := f.From; d <= gap-f.EndBefore; d++ {
		wd := time.Weekday((int(time.Tuesday) + d) % 7)
		if f.Weekdays && (wd == time.Saturday || wd == time.Sunday) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// FollowUpTimeline is the follow-up of month m's night with real dates and times in loc, in
// time order. An occurrence's ID is its step's ID with the day: follow-up-notice-1030-d06
// (PT+6), so that each day's run has its own journal row.
func FollowUpTimeline(p *Plan, m Month, loc *time.Location) []Occurrence {
	steps := p.FollowUpSteps()
	days := p.FollowUpDays(m)
	var out []Occurrence
	for _, d := range days {
		for _, s := range steps {
			w := When{Day: d, Minute: s.At.Minute}
			s.At = w
			o := Occurrence{ID: fmt.Sprintf("%s-d%02d", s.ID, d), StepID: s.ID, Index: len(out), Count: len(days), At: w, Step: s, Month: m}
			o.Time, o.Moved = w.At(m, loc)
			out = append(out, o)
		}
	}
	for i := range out {
		out[i].Index = i / max(len(steps), 1)
	}
	return out
}

// FollowUpEnd is the end of month m's follow-up (the deadline of its last occurrence), or
// the zero time when the plan has none.
func FollowUpEnd(p *Plan, m Month, loc *time.Location) time.Time {
	tl := FollowUpTimeline(p, m, loc)
	if len(tl) == 0 {
		return time.Time{}
	}
	return tl[len(tl)-1].Deadline()
}

func (p *Plan) followUpStep(id string) bool {
	for _, s := range p.FollowUpSteps() {
		if s.ID == id {
			return true
		}
	}
	return false
}

var followUpKeys = []string{"from", "end_before_next_pt", "days", "working_hours", "times", "after_hours", "messed_up", "repair_client"}

// followUp reads the plan's follow_up section.
func (c *checker) followUp(f field) *FollowUp {
	const where = "follow_up"
	fu := &FollowUp{From: DefaultFollowUpFrom, EndBefore: DefaultFollowUpEndBefore, Weekdays: true,
		WorkStart: DefaultWorkStart, WorkEnd: DefaultWorkEnd,
		MessedUp: Messed{Attempts: DefaultMessedAttempts, Days: DefaultMessedDays}}
	haveTimes := false
	for _, g := range c.mapping(f.val, "", where, followUpKeys) {
		switch g.key.Value {
		case "from":
			s, ok := c.scalar(g, "")
			if !ok {
				continue
			}
			d, err := parseDay(strings.TrimSpace(s))
			switch {
			case err != nil:
				c.add(g.val.Line, "", fmt.Sprintf("follow_up from %q: %v", s, err), "write it like PT+2")
			case d < 2:
				c.add(g.val.Line, "", fmt.Sprintf("follow_up from %s is before PT+2", s), "the follow-up starts after the night and the day after: PT+2 or later")
			default:
				fu.From = d
			}
		case "end_before_next_pt":
			if n, ok := c.integer(g, ""); ok {
				if n < 1 || n > 20 {
					c.add(g.val.Line, "", fmt.Sprintf("follow_up end_before_next_pt %d is outside 1..20 days", n), "the default is 7: a week before the next Patch Tuesday")
				}
				fu.EndBefore = n
			}
		case "days":
			s, _ := c.scalar(g, "")
			switch s {
			case "weekdays":
				fu.Weekdays = true
			case "every-day":
				fu.Weekdays = false
			default:
				c.add(g.val.Line, "", fmt.Sprintf("follow_up days %q is neither weekdays nor every-day", s), "")
			}
		case "working_hours":
			s, _ := c.scalar(g, "")
			a, b, ok := strings.Cut(s, "-")
			start, err1 := parseClock(strings.TrimSpace(a))
			end, err2 := parseClock(strings.TrimSpace(b))
			if !ok || err1 != nil || err2 != nil || end <= start {
				c.add(g.val.Line, "", fmt.Sprintf("follow_up working_hours %q is not a range like 08:00-17:00", s), "")
				continue
			}
			fu.WorkStart, fu.WorkEnd = start, end
		case "times":
			haveTimes = true
			fu.Times = c.clockList(g)
		case "after_hours":
			s, ok := c.scalar(g, "")
			if !ok || s == "" {
				continue
			}
			m, err := parseClock(strings.TrimSpace(s))
			if err != nil {
				c.add(g.val.Line, "", fmt.Sprintf("follow_up after_hours %q: %v", s, err), "")
				continue
			}
			fu.AfterHrs = &m
		case "messed_up":
			for _, h := range c.mapping(g.val, "", "follow_up messed_up", []string{"same_error_attempts", "over_days"}) {
				n, ok := c.integer(h, "")
				if !ok {
					continue
				}
				switch h.key.Value {
				case "same_error_attempts":
					if n < 2 || n > 20 {
						c.add(h.val.Line, "", fmt.Sprintf("follow_up messed_up same_error_attempts %d is outside 2..20", n), "")
					}
					fu.MessedUp.Attempts = n
				case "over_days":
					if n < 2 || n > 20 {
						c.add(h.val.Line, "", fmt.Sprintf("follow_up messed_up over_days %d is outside 2..20", n), "a machine is messed up when it fails the same way on at least two days")
					}
					fu.MessedUp.Days = n
				}
			}
		case "repair_client":
			fu.RepairClient, _ = c.boolean(g, "")
		}
	}
	if f.val.Kind != yaml.MappingNode {
		return nil
	}
	if !haveTimes {
		fu.Times = []int{10*60 + 30, 14*60 + 30}
	}
	if len(fu.days(28)) == 0 {
		// Patch Tuesdays are 4 or 5 weeks apart: in a 4-week month the follow-up would
		// silently not run.
		c.add(f.val.Line, "", fmt.Sprintf("follow_up from PT+%d until %d days before the next Patch Tuesday has no follow-up day when Patch Tuesdays are 4 weeks apart (the last day is then PT+%d)",
			fu.From, fu.EndBefore, 28-fu.EndBefore), "start earlier (from) or end later (end_before_next_pt)")
	}
	if len(fu.Times) == 0 {
		c.add(f.val.Line, "", "follow_up has no times", "add times: [\"10:00\", \"14:00\"] (in working hours)")
	}
	if len(fu.Times) > maxFollowUpTimes {
		c.add(f.val.Line, "", fmt.Sprintf("follow_up has %d times, more than %d", len(fu.Times), maxFollowUpTimes), "")
	}
	slices.Sort(fu.Times)
	span := int((followUpInstallAfter + followUpInstallLimit) / time.Minute)
	for i, t := range fu.Times {
		if t < fu.WorkStart || t+span > fu.WorkEnd {
			c.add(f.val.Line, "", fmt.Sprintf("follow_up time %s is not in working hours %s-%s (the notice, scan and install take until %s)",
				clockText(t), clockText(fu.WorkStart), clockText(fu.WorkEnd), clockText(t+span)), "move it into working hours; install and restart outside them is after_hours")
		}
		if i > 0 && t-fu.Times[i-1] < span {
			c.add(f.val.Line, "", fmt.Sprintf("follow_up times %s and %s are less than %dm apart", clockText(fu.Times[i-1]), clockText(t), span), "one round (notice, scan, install) must end before the next")
		}
	}
	if a := fu.AfterHrs; a != nil {
		end := *a + int(followUpNightLimit/time.Minute)
		if *a < fu.WorkEnd && end > fu.WorkStart {
			c.add(f.val.Line, "", fmt.Sprintf("follow_up after_hours %s (until %s) overlaps working hours %s-%s", clockText(*a), clockText(end%(24*60)),
				clockText(fu.WorkStart), clockText(fu.WorkEnd)), "choose a time from the end of working hours, e.g. 19:00")
		}
		if end > 24*60 {
			c.add(f.val.Line, "", fmt.Sprintf("follow_up after_hours %s runs past midnight", clockText(*a)), "choose a time that ends by midnight")
		}
	}
	return fu
}

// clockList reads a list of HH:MM times (or one).
func (c *checker) clockList(f field) []int {
	nodes := []*yaml.Node{f.val}
	if f.val.Kind == yaml.SequenceNode {
		nodes = f.val.Content
	}
	var out []int
	for _, n := range nodes {
		if n.Kind != yaml.ScalarNode {
			c.add(n.Line, "", "follow_up times must be a list of HH:MM times", "")
			continue
		}
		m, err := parseClock(strings.TrimSpace(n.Value))
		if err != nil {
			c.add(n.Line, "", fmt.Sprintf("follow_up time %q: %v", n.Value, err), "")
			continue
		}
		if slices.Contains(out, m) {
			c.add(n.Line, "", fmt.Sprintf("follow_up time %s appears twice", n.Value), "")
			continue
		}
		out = append(out, m)
	}
	return out
}

// Warnings are what a valid plan still makes worth saying (plan validate, doctor).
func (p *Plan) Warnings() []string {
	var out []string
	if p.FollowUp != nil && p.FollowUp.RepairClient {
		out = append(out, RepairUnconfirmed)
	}
	return out
}

// followUpOccurrence reports whether id is a dated follow-up occurrence ID (STEP-dNN).
func followUpOccurrence(p *Plan, id string) bool {
	i := strings.LastIndex(id, "-d")
	if i < 0 || !p.followUpStep(id[:i]) {
		return false
	}
	d := id[i+2:]
	if len(d) != 2 || !allDigits(d) {
		return false
	}
	// A day the follow-up can run in some month (5 weeks between Patch Tuesdays at most);
	// PT+d's weekday is the same every month, so a weekend day is never one.
	n := int(d[0]-'0')*10 + int(d[1]-'0')
	return slices.Contains(p.FollowUp.days(35), n)
}

// FollowUpMonth is the month whose follow-up is under way at now (from the start of its
// first follow-up day to the end of its last occurrence), if any: `patchnight run` of a
// follow-up step runs in that month's night. NightMonth is by then the next night.
func FollowUpMonth(p *Plan, now time.Time, loc *time.Location) (Month, bool) {
	cur := MonthOf(now.In(loc))
	for _, m := range []Month{cur.AddMonths(-1), cur} {
		tl := FollowUpTimeline(p, m, loc)
		if len(tl) == 0 {
			continue
		}
		y, mo, d := tl[0].Time.In(loc).Date()
		start, _ := wallTime(y, mo, d, 0, 0, loc)
		if !now.Before(start) && !tl[len(tl)-1].Deadline().Before(now) {
			return m, true
		}
	}
	return Month{}, false
}

// InFollowUp reports whether a step or occurrence ID (as the journal keeps it) is one of
// the follow-up's: every follow-up step's ID begins with "follow-up-" (FollowUpSteps), and
// a plan's own steps may not (Parse).
func InFollowUp(id string) bool { return strings.HasPrefix(id, "follow-up-") }

// IsFollowUp reports whether id names a follow-up step or a dated follow-up occurrence.
func (p *Plan) IsFollowUp(id string) bool { return p.followUpStep(id) || followUpOccurrence(p, id) }
