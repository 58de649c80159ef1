package report

import "time"

// Morning is the morning report of one patch night: how the night went, hour by hour, and
// who needs a person today. It combines the journal (what was done to each machine) and the
// site database (what the machines report now). The runner fills it; renderers (table,
// Markdown, JSON, HTML) only present it.
type Morning struct {
	Run       MorningRun `json:"run"`
	Generated time.Time  `json:"generated"`
	// Halts are the night's halts (issue 16), oldest first: the report leads with them.
	Halts []MorningHalt `json:"halts,omitempty"`
	// Eligible is the denominator: client machines that are active and healthy (client
	// check passed) and in the plan's target collection. Machines outside it are listed in
	// Excluded, never counted as patched or unpatched.
	Eligible int64 `json:"eligible"`
	// Excluded counts machines left out of the denominator, by reason (inactive client,
	// unhealthy client, no client).
	Excluded []Count `json:"excluded"`
	// Patched is how many eligible machines have every update of the night's software
	// update group installed or not required, on a current scan.
	Patched    int64   `json:"patched"`
	PatchedPct float64 `json:"patched_percent"`
	// BeforePct is the patched share before the first step of the night.
	BeforePct float64 `json:"before_percent"`
	// Benchmark is the published result of the manual restart method: 80% on the night.
	Benchmark float64 `json:"benchmark_percent"`
	// BurnDown is the patched share after each step, in order.
	BurnDown []BurnPoint `json:"burn_down"`
	// ByUpdate is compliance per update of the group over the eligible machines: each row's
	// required, installed, not required and unknown add up to Eligible.
	ByUpdate []UpdateCompliance `json:"by_update"`
	// ByLocation is the patched share per location (AD site) or subnet.
	ByLocation []GroupShare `json:"by_location"`
	// Stopped counts unpatched eligible machines by what stopped them (the first reason
	// that applies, in this order: did not come back after restart, never woke (or not
	// woken: no usable MAC address, no route to its subnet, packets not sent), offline at
	// the wave, offline, scan still running, scan failed, scan not current, install
	// failed, install still running at the step's limit, pending restart, chained update
	// waiting for a restart, logged-on deferral, offline at the wave, retries exhausted,
	// escalated, install not finished).
	Stopped []Count `json:"stopped"`
	// NeedsPerson lists the machines a person should look at today, with reasons.
	NeedsPerson []HostIssue `json:"needs_person"`
	// AfterNight is set when the report is built after the follow-up began (issue 17): the
	// figures above are the site's now, with the follow-up's work in them, while BurnDown
	// and Installs keep to the night's own steps; AfterNight holds the share at the
	// night's end. Nil on the night and the day after.
	AfterNight *NightEnd `json:"after_night,omitempty"`
	// Installs counts how the install jobs of the night's install-and-restart waves ended,
	// one per machine and wave: installed, pending restart (then restarted); install still
	// running at the step's limit (not restarted); install failed; installed, no restart
	// needed. Empty when no wave followed an install job.
	Installs []Count `json:"installs,omitempty"`
}

// NightEnd is the night's own figure, for a morning report built during or after the
// follow-up: the last measurement of the night's steps, and how many follow-up steps ran.
type NightEnd struct {
	At            time.Time `json:"at"`
	Patched       int64     `json:"patched"`
	Eligible      int64     `json:"eligible"`
	PatchedPct    float64   `json:"patched_percent"`
	FollowUpSteps int       `json:"follow_up_steps"`
}

// MorningRun identifies the night.
type MorningRun struct {
	ID           int64      `json:"id"`
	Plan         string     `json:"plan"`
	Month        string     `json:"month"` // 2026-12
	PatchTuesday time.Time  `json:"patch_tuesday"`
	Started      time.Time  `json:"started"`
	Finished     *time.Time `json:"finished,omitempty"`
	Status       string     `json:"status"` // running, finished, failed
	Site         string     `json:"site"`   // site code
}

// BurnPoint is the patched share after one step of the night.
type BurnPoint struct {
	Step       string    `json:"step"`  // step ID, e.g. install-nobody-2000
	Label      string    `json:"label"` // e.g. "20:00 install + restart (nobody logged on)"
	At         time.Time `json:"at"`    // when the step finished
	Patched    int64     `json:"patched"`
	Eligible   int64     `json:"eligible"`
	PatchedPct float64   `json:"patched_percent"`
	Hosts      int64     `json:"hosts"`  // hosts the step acted on
	Failed     int64     `json:"failed"` // of those, hosts whose action failed
}

// GroupShare is the patched share of one location or subnet.
type GroupShare struct {
	Name       string  `json:"name"`
	Eligible   int64   `json:"eligible"`
	Patched    int64   `json:"patched"`
	PatchedPct float64 `json:"patched_percent"`
}

// Count is a labelled number.
type Count struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// HostIssue is one machine that needs a person, with why.
type HostIssue struct {
	Name       string     `json:"name"`
	Location   string     `json:"location"`
	Reasons    []string   `json:"reasons"`     // e.g. "install failed 0x80070643", "told 4 times"
	Missing    []string   `json:"missing"`     // updates still missing, e.g. KB5071234
	ErrorCodes []string   `json:"error_codes"` // distinct error codes seen, 0x...
	Notices    int        `json:"notices"`     // notices delivered to its users during the night's run (journal), each time counted once; "escalated after N notices (all runs)" counts every run's
	LastSeen   *time.Time `json:"last_seen,omitempty"`
}

// MorningHalt is one halt of the night: the runner stopped its install and restart steps.
type MorningHalt struct {
	Step    string     `json:"step"`              // the step occurrence that halted
	Kind    string     `json:"kind"`              // not-back, same-error
	Reason  string     `json:"reason"`            // why, with the machines named
	At      time.Time  `json:"at"`                // when
	Resumed *time.Time `json:"resumed,omitempty"` // when an operator resumed the night; nil = still halted
}

// HaltLine is the halt in one line, as the report leads with it.
func (h MorningHalt) HaltLine() string {
	s := "HALTED in " + h.Step + " at " + h.At.Format("Mon 15:04") + ": " + h.Reason
	if h.Resumed != nil {
		s += " (resumed " + h.Resumed.Format("Mon 15:04") + ")"
	} else {
		s += " (install and restart steps held)"
	}
	return s
}
