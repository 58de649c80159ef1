// Package night holds the patch-night plan: the model of a plan (steps at times relative to
// Patch Tuesday, with an action, a target and options), the built-in default plan (the
// restart method), plan validation, the calendar (Patch Tuesday in the site's time zone and
// the timeline of a month's night, across month ends and daylight-saving changes), the day
// check that `patchnight run STEP` makes, and the export of the plan as Windows Task
// Scheduler tasks with a registration script.
//
// The package describes what to do and when; it does not act. The step runner executes each
// occurrence's action and records host outcomes in package journal.
package night

import (
	"slices"
	"time"
)

// Action is what a step does.
type Action string

// Actions.
const (
	CheckDeployments   Action = "check-deployments"   // verify the software update group is deployed to the target collections with the intended settings
	RefreshCollections Action = "refresh-collections" // re-evaluate the night's collections (per-update, scan-behind, night families)
	Scan               Action = "scan"                // force a software update scan (schedule 113) on the targets
	Wake               Action = "wake"                // send Wake-on-LAN to the targets
	Install            Action = "install"             // install required updates, no restart (unless restart_prompt)
	Restart            Action = "restart"             // restart the targets
	InstallAndRestart  Action = "install-and-restart" // install required updates, then restart when complete
	NotifyScan         Action = "notify-scan"         // the watcher pass: notify and scan scan-behind machines that came online (issue 7)
	NotifyMissing      Action = "notify-missing"      // the Thursday notice to users of machines still missing an update (issue 7)
	Report             Action = "report"              // the morning report
)

// Actions lists every action in plan order.
func Actions() []Action {
	return []Action{CheckDeployments, RefreshCollections, Scan, Wake, Install, Restart,
		InstallAndRestart, NotifyScan, NotifyMissing, Report}
}

// Valid reports whether a is a known action.
func (a Action) Valid() bool { return slices.Contains(Actions(), a) }

// OnHosts reports whether the action acts on a set of hosts and so needs a target.
func (a Action) OnHosts() bool {
	switch a {
	case Scan, Wake, Install, Restart, InstallAndRestart, NotifyScan, NotifyMissing:
		return true
	}
	return false
}

// Installs reports whether the action installs updates.
func (a Action) Installs() bool { return a == Install || a == InstallAndRestart }

// Restarts reports whether the action may restart hosts (never twice within a step).
func (a Action) Restarts() bool { return a == Restart || a == InstallAndRestart }

// DefaultLimit is the execution time limit of a step with this action when the plan gives none.
func (a Action) DefaultLimit() time.Duration {
	switch a {
	case CheckDeployments:
		return 10 * time.Minute
	case RefreshCollections, Report, Restart:
		return 15 * time.Minute
	case Scan, Wake, NotifyScan:
		return 25 * time.Minute
	case Install, InstallAndRestart:
		return 2 * time.Hour
	}
	return time.Hour
}

// Selector picks hosts within the plan's scope (or the step's collection) at step time,
// from the site database.
type Selector string

// Selectors.
const (
	All               Selector = "all"                  // every client in scope
	NobodyLoggedOnNow Selector = "nobody-logged-on-now" // no user logged on now (fast channel CurrentLogonUser)
	LoggedOn          Selector = "logged-on"            // a user is logged on now
	MissingUpdates    Selector = "missing-updates"      // required updates of the group still missing
	ScanBehind        Selector = "scan-behind"          // last scan older than the current catalog
	PendingRestart    Selector = "pending-restart"      // a restart is pending
	FailedInstalls    Selector = "failed-installs"      // an install of the group failed (enforcement state)
	NeedsAttention    Selector = "needs-attention"      // escalated (issue 7) or retries exhausted
)

// Selectors lists every selector.
func Selectors() []Selector {
	return []Selector{All, NobodyLoggedOnNow, LoggedOn, MissingUpdates, ScanBehind,
		PendingRestart, FailedInstalls, NeedsAttention}
}

// Valid reports whether s is a known selector.
func (s Selector) Valid() bool { return slices.Contains(Selectors(), s) }

// Channel is how client actions reach the hosts.
type Channel string

// Channels.
const (
	ChannelAuto  Channel = ""      // the runner chooses (WinRM fan-out for thousands, the site channel beyond)
	ChannelWinRM Channel = "winrm" // PowerShell over WinRM, host by host (bounded fan-out)
	ChannelSite  Channel = "site"  // the site's client notification (SMS_ClientOperation) or Run Script
)

// Condition is what a barrier waits for on the targets.
type Condition string

// Barrier conditions.
const (
	ScanCurrent Condition = "scan-current" // the target reports a scan against the current catalog
	Online      Condition = "online"       // the target is online (fast channel)
	Installed   Condition = "installed"    // the target no longer misses a required update of the group
	Restarted   Condition = "restarted"    // the target has no restart pending
)

// Conditions lists every barrier condition.
func Conditions() []Condition { return []Condition{ScanCurrent, Online, Installed, Restarted} }

// Repeat makes a step run again every Every, on the wall clock, until Until (inclusive):
// from PT+1 01:00 every 3h until PT+1 05:00 runs at 01:00 and 04:00; with until PT+1 04:00 it
// would also run at 01:00 and 04:00; every 2h until 05:00 would run at 01:00, 03:00 and 05:00.
// Until is the last time an occurrence may start, so "until 05:00" means no wave starts after
// 05:00, which is what the restart method's "every 3 hours until 5am" asks for.
type Repeat struct {
	Every time.Duration `json:"every"` // wall-clock interval, at least 5 minutes
	Until When          `json:"until"` // last allowed start, inclusive; less than 24 hours after the step's time
}

// Barrier makes a step, after acting, wait until Percent of its targets meet Condition, or
// Timeout passes, whichever comes first ("wait until 90% of targets report a current scan or
// 45 minutes").
type Barrier struct {
	Percent   int           `json:"percent"`   // 1..100
	Condition Condition     `json:"condition"` // what to wait for
	Timeout   time.Duration `json:"timeout"`   // at most this long; less than the step's limit
}

// Step is one line of the plan.
type Step struct {
	ID          string   `json:"id"`                   // stable name: task names and `patchnight run ID`
	At          When     `json:"at"`                   // first (or only) time
	Action      Action   `json:"action"`               // what to do
	Target      Selector `json:"target,omitempty"`     // which hosts, within Collection or the plan's scope
	Collection  string   `json:"collection,omitempty"` // collection ID or name narrowing the scope; empty = the plan's scope
	Description string   `json:"description,omitempty"`
	Repeat      *Repeat  `json:"repeat,omitempty"`  // nil = once
	Barrier     *Barrier `json:"barrier,omitempty"` // nil = no wait
	// MaxRetries is how many times a host whose action failed is tried again during the night
	// (across every step with the same action): attempts = 1 + MaxRetries. Then the host is
	// recorded as retries-exhausted and listed as needing a person.
	MaxRetries    int  `json:"max_retries"`
	RestartPrompt bool `json:"restart_prompt,omitempty"` // install, then prompt the logged-on user to restart (no forced restart)
	// OnlyIfNobodyLoggedOn makes the runner check the host live just before acting and skip
	// it (outcome deferred) if a user has logged on since the selection.
	OnlyIfNobodyLoggedOn bool          `json:"only_if_nobody_logged_on,omitempty"`
	Via                  Channel       `json:"via,omitempty"` // winrm, site, or empty for the runner's choice
	Limit                time.Duration `json:"limit"`         // execution time limit of one occurrence (task ExecutionTimeLimit)
	Line                 int           `json:"-"`             // line of the step in the plan file
}

// DefaultMaxRetries is a step's max_retries when the plan gives none.
const DefaultMaxRetries = 2

// Plan is a patch-night plan.
type Plan struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// TimeZone is the IANA zone of the site's Patch Tuesday; empty = the profile's time_zone.
	TimeZone string `json:"time_zone,omitempty"`
	// Scope is the collection (ID or name) every step's hosts are taken from; empty = the
	// collections the software update group is deployed to.
	Scope string `json:"scope,omitempty"`
	// Group is the software update group (name or CI_ID) the night installs; empty = the
	// runner's choice (the profile's, or the newest deployed group).
	Group string `json:"group,omitempty"`
	// Exclude lists collections (IDs or names) whose members no step of the night acts
	// on; the profile's exclude adds to it. Excluded machines are counted apart.
	Exclude []string `json:"exclude,omitempty"`
	// Canary, Halt and RestartCap guard the restarting steps (safety.go); nil = unguarded.
	Canary     *Canary     `json:"canary,omitempty"`
	Halt       *Halt       `json:"halt,omitempty"`
	RestartCap *RestartCap `json:"restart_cap,omitempty"`
	Steps      []Step      `json:"steps"`
	// FollowUp follows the machines the night missed until they are patched (followup.go);
	// nil = no follow-up.
	FollowUp *FollowUp `json:"follow_up,omitempty"`
	Source   string    `json:"source"` // file name, or "built-in"
}

// Step returns the step with the given ID.
func (p *Plan) Step(id string) (*Step, bool) {
	for i := range p.Steps {
		if p.Steps[i].ID == id {
			return &p.Steps[i], true
		}
	}
	return nil, false
}
