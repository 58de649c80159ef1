// Package client holds the actions patchnight takes on one ConfigMgr client: trigger a
// client schedule (update scan, deployment evaluation, machine policy), install the missing
// deployed updates, ask whether a restart is pending, restart through the client, and list
// who is logged on. Each action is one remote script (scripts/client-*.ps1) run through a
// Runner, which *remote.Client satisfies; the results are the scripts' JSON objects.
package client

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Runner runs a named script from scripts/ on one host with JSON parameters and decodes
// the one JSON object it prints into out.
type Runner interface {
	Run(ctx context.Context, script string, params any, out any) error
}

// Client schedules (root\ccm SMS_Client.TriggerSchedule, reference section 6).
const (
	ScheduleMachinePolicy     = "{00000000-0000-0000-0000-000000000021}" // machine policy retrieval
	ScheduleUpdateEval        = "{00000000-0000-0000-0000-000000000108}" // software update deployment evaluation
	ScheduleSendStateMessages = "{00000000-0000-0000-0000-000000000111}" // send unsent state messages
	ScheduleUpdateScan        = "{00000000-0000-0000-0000-000000000113}" // software update scan (forced online)
)

var scheduleRE = regexp.MustCompile(`^\{00000000-0000-0000-0000-000000000[0-9]{3}\}$`)

// ParseSchedule accepts a full schedule ID or its three-digit number (113, 021) and
// returns the full form; anything else is refused.
func ParseSchedule(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) == 3 && strings.Trim(t, "0123456789") == "" {
		t = "{00000000-0000-0000-0000-000000000" + t + "}"
	}
	if !scheduleRE.MatchString(t) {
		return "", exit.Usagef("give a schedule ID like 113 or {00000000-0000-0000-0000-000000000113}",
			"%q is not a client schedule ID", s)
	}
	return t, nil
}

// Triggered is the result of TriggerSchedule.
type Triggered struct {
	ScheduleID  string `json:"scheduleId"`
	ReturnValue int64  `json:"returnValue"`
	// StateMessagesSent says that schedule 111 (send unsent state messages) was triggered
	// right after, in the same script run.
	StateMessagesSent bool `json:"stateMessagesSent,omitempty"`
}

// TriggerSchedule starts a client schedule (scan, evaluation, policy, ...). After a
// software update scan (113) the same script run also triggers 111, send unsent state
// messages (reference section 12): the scan's result reaches the site database when the
// client sends it, and without 111 that waits for the client's state message reporting
// cycle. One WinRM round trip does both. The scan runs on after TriggerSchedule returns,
// so 111 sends what is unsent at that moment; a scan that ends later is reported at the
// next cycle (or the next 111).
func TriggerSchedule(ctx context.Context, r Runner, scheduleID string) (Triggered, error) {
	id, err := ParseSchedule(scheduleID)
	if err != nil {
		return Triggered{}, err
	}
	params := map[string]any{"ScheduleID": id}
	if id == ScheduleUpdateScan {
		params["SendStateMessages"] = true
	}
	var out Triggered
	if err := r.Run(ctx, "client-trigger-schedule", params, &out); err != nil {
		return out, err
	}
	return out, nil
}

// Installed is the result of Install. InstallUpdates returns when the client has queued
// the job, not when the updates are installed (reference section 12): follow the job with
// UpdateStates or Wait.
type Installed struct {
	Started     int      `json:"started"`    // updates handed to the client's install job (queued)
	ArticleIDs  []string `json:"articleIds"` // their KB numbers
	ReturnValue int64    `json:"returnValue"`
}

// Install asks the client to install its missing deployed updates (ComplianceState 0 in
// CCM_SoftwareUpdate), or only those of articleIDs when given. It returns once the job is
// queued.
func Install(ctx context.Context, r Runner, articleIDs []string) (Installed, error) {
	var out Installed
	err := r.Run(ctx, "client-install-updates", articleParams(articleIDs), &out)
	return out, err
}

// RebootState is the result of RebootPending.
type RebootState struct {
	Pending       bool       `json:"pending"`
	Hard          bool       `json:"hard"`
	InGracePeriod bool       `json:"inGracePeriod"`
	Deadline      *time.Time `json:"deadline"`
}

// RebootPending asks the client whether a restart is pending (CCM_ClientUtilities.DetermineIfRebootPending).
func RebootPending(ctx context.Context, r Runner) (RebootState, error) {
	var out RebootState
	err := r.Run(ctx, "client-reboot-pending", map[string]any{}, &out)
	return out, err
}

// Restarted is the result of Restart.
type Restarted struct {
	Restarted   bool     `json:"restarted"`
	Reason      string   `json:"reason,omitempty"` // users-logged-on when skipped
	Users       []string `json:"users,omitempty"`
	ReturnValue int64    `json:"returnValue"`
}

// Restart restarts the machine through the ConfigMgr client. With onlyIfNobodyLoggedOn the
// client checks its sessions first and does nothing when anyone is logged on.
func Restart(ctx context.Context, r Runner, onlyIfNobodyLoggedOn bool) (Restarted, error) {
	var out Restarted
	err := r.Run(ctx, "client-restart", map[string]any{"OnlyIfNobodyLoggedOn": onlyIfNobodyLoggedOn}, &out)
	return out, err
}

// Session is one logon session on a client.
type Session struct {
	User      string `json:"user"`
	Session   string `json:"session"`
	ID        int    `json:"id"`
	Kind      string `json:"kind"` // console, rdp, unknown
	State     string `json:"state"`
	Idle      string `json:"idle"`
	LogonTime string `json:"logonTime"`
}

// Sessions is the result of LoggedOn.
type Sessions struct {
	Source   string    `json:"source"` // quser or explorer
	Count    int       `json:"count"`
	Active   int       `json:"active"`
	Sessions []Session `json:"sessions"`
}

// LoggedOn lists the live console and remote sessions of the client.
func LoggedOn(ctx context.Context, r Runner) (Sessions, error) {
	var out Sessions
	err := r.Run(ctx, "client-logged-on", map[string]any{}, &out)
	return out, err
}

// Users returns the distinct user names of the sessions, for display.
func (s Sessions) Users() string {
	seen := map[string]bool{}
	var users []string
	for _, x := range s.Sessions {
		if x.User != "" && !seen[strings.ToLower(x.User)] {
			seen[strings.ToLower(x.User)] = true
			users = append(users, x.User)
		}
	}
	return strings.Join(users, ", ")
}

// Describe is a short line for a result table.
func Describe(v any) string {
	switch x := v.(type) {
	case Triggered:
		if x.StateMessagesSent {
			return fmt.Sprintf("triggered %s, then sent state messages", x.ScheduleID)
		}
		return fmt.Sprintf("triggered %s", x.ScheduleID)
	case Installed:
		if x.Started == 0 {
			return "nothing to install"
		}
		return fmt.Sprintf("%d updates queued: %s", x.Started, strings.Join(x.ArticleIDs, ", "))
	case Batch:
		return x.Describe()
	case RebootState:
		switch {
		case x.Hard:
			return "hard restart pending"
		case x.Pending:
			return "restart pending"
		}
		return "no restart pending"
	case Restarted:
		if x.Restarted {
			return "restarting"
		}
		return "not restarted: " + x.Reason + " " + strings.Join(x.Users, ", ")
	case Sessions:
		if x.Count == 0 {
			return "nobody logged on"
		}
		return fmt.Sprintf("%d sessions: %s", x.Count, x.Users())
	}
	return fmt.Sprint(v)
}

// Retries is how many times an action on a client is retried after a transient fault
// (unreachable, timeout, quota), given the profile's winrm.retries: a restart request that
// may have reached the host is never sent again, whoever sends it (a night step, patchnight
// client restart).
func Retries(restart bool, transient int) int {
	if restart {
		return 0
	}
	return transient
}

// articleParams is the parameter object of the scripts that take an optional list of KB
// numbers (client-install-updates, client-update-state): {} for every update, else
// {"ArticleIDs": [...]}.
func articleParams(articleIDs []string) map[string]any {
	params := map[string]any{}
	if len(articleIDs) > 0 {
		params["ArticleIDs"] = articleIDs
	}
	return params
}

// Repaired is the result of Repair.
type Repaired struct {
	// Available is false when the client's SMS_Client class has no RepairClient method:
	// the method is unconfirmed (not in Microsoft's SMS_Client reference), so the script
	// looks it up first, and its absence is an answer, not an error.
	Available   bool   `json:"available"`
	Reason      string `json:"reason,omitempty"`
	ReturnValue int64  `json:"returnValue"`
}

// Repair asks the ConfigMgr client to repair itself (root\ccm SMS_Client.RepairClient,
// unconfirmed: see scripts/client-repair.ps1). The repair runs in the background; whether
// it helped shows only in later scans and installs.
func Repair(ctx context.Context, r Runner) (Repaired, error) {
	var out Repaired
	err := r.Run(ctx, "client-repair", map[string]any{}, &out)
	return out, err
}
