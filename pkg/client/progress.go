package client

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// EvaluationState values of CCM_SoftwareUpdate (reference section 2): the progress of an
// update's install job, not its compliance.
const (
	EvalNone              = 0
	EvalAvailable         = 1
	EvalSubmitted         = 2
	EvalDownloading       = 5
	EvalInstalling        = 7
	EvalPendingSoftReboot = 8
	EvalPendingHardReboot = 9
	EvalWaitReboot        = 10
	EvalVerifying         = 11
	EvalInstallComplete   = 12
	EvalError             = 13
)

// UpdateState is one CCM_SoftwareUpdate instance: a deployed, applicable update that is
// not installed yet.
type UpdateState struct {
	ArticleID       string `json:"articleId"`
	EvaluationState int    `json:"evaluationState"`
	ErrorCode       int64  `json:"errorCode"`
	PercentComplete int    `json:"percentComplete"`
	ComplianceState int    `json:"complianceState"`
}

// UpdateStates is the result of ReadUpdateStates.
type UpdateStates struct {
	Updates []UpdateState `json:"updates"`
}

// ReadUpdateStates reads how the client's updates stand (scripts/client-update-state.ps1,
// read-only), only those of articleIDs when given.
func ReadUpdateStates(ctx context.Context, r Runner, articleIDs []string) (UpdateStates, error) {
	var out UpdateStates
	err := r.Run(ctx, "client-update-state", articleParams(articleIDs), &out)
	return out, err
}

// Phase is where an install job stands for one update or a batch.
type Phase int

// Phases, in the order a batch is decided: anything running keeps the batch running.
const (
	PhaseInstalled      Phase = iota // 12, or no longer listed by the client
	PhaseFailed                      // 13
	PhasePendingRestart              // 8, 9, 10
	PhaseRunning                     // 0-7, 11, 14-23: queued, downloading, installing, verifying, waiting
)

// PhaseOf groups an EvaluationState as Client Center does (reference section 2): 8/9/10
// pending restart, 12 installed, 13 error; everything else is not finished. 0 and 1 count
// as running: InstallUpdates has just queued the job and the client has not picked it up.
// 16 (WaitUserLogoff), which Client Center counts as pending a restart, is not finished
// here: no restart finishes it.
func PhaseOf(evaluationState int) Phase {
	switch evaluationState {
	case EvalPendingSoftReboot, EvalPendingHardReboot, EvalWaitReboot:
		return PhasePendingRestart
	case EvalInstallComplete:
		return PhaseInstalled
	case EvalError:
		return PhaseFailed
	}
	return PhaseRunning
}

// Batch is how the updates an install job was given stand now.
type Batch struct {
	Total          int
	Running        int
	PendingRestart int
	Installed      int
	Failed         int
	ErrorCode      int64 // the first failure's HRESULT
	Percent        int   // mean PercentComplete of the running updates
}

// Summarize counts the batch (the KB numbers handed to InstallUpdates) in the client's
// answer. An update of the batch the client no longer lists is installed. An empty batch
// means every update the client lists.
func Summarize(batch []string, st UpdateStates) Batch {
	byID := map[string]UpdateState{}
	for _, u := range st.Updates {
		byID[strings.TrimPrefix(strings.ToUpper(u.ArticleID), "KB")] = u
	}
	if len(batch) == 0 {
		for _, u := range st.Updates {
			batch = append(batch, u.ArticleID)
		}
	}
	var b Batch
	seen := map[string]bool{}
	pct := 0
	for _, a := range batch {
		k := strings.TrimPrefix(strings.ToUpper(a), "KB")
		if seen[k] {
			continue
		}
		seen[k] = true
		b.Total++
		u, ok := byID[k]
		if !ok {
			b.Installed++
			continue
		}
		switch PhaseOf(u.EvaluationState) {
		case PhaseInstalled:
			b.Installed++
		case PhaseFailed:
			b.Failed++
			if b.ErrorCode == 0 {
				b.ErrorCode = u.ErrorCode
			}
		case PhasePendingRestart:
			b.PendingRestart++
		default:
			b.Running++
			pct += u.PercentComplete
		}
	}
	if b.Running > 0 {
		b.Percent = pct / b.Running
	}
	return b
}

// Phase is the batch's phase: running while any update is; then pending a restart if any
// update waits for one (a restart also ends the batch's failures' retries); then failed if
// any failed; else installed.
func (b Batch) Phase() Phase {
	switch {
	case b.Running > 0:
		return PhaseRunning
	case b.PendingRestart > 0:
		return PhasePendingRestart
	case b.Failed > 0:
		return PhaseFailed
	}
	return PhaseInstalled
}

// Describe is a short line for a result table or a journal reason.
func (b Batch) Describe() string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(b.Running, fmt.Sprintf("still running (%d%%)", b.Percent))
	add(b.PendingRestart, "pending restart")
	add(b.Installed, "installed")
	if b.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed %s", b.Failed, hresult(b.ErrorCode)))
	}
	if len(parts) == 0 {
		return "nothing to install"
	}
	return strings.Join(parts, ", ")
}

func hresult(code int64) string {
	if code == 0 {
		return ""
	}
	return fmt.Sprintf("0x%08X", uint32(code))
}

// Backoff is the wait between two looks at an install job: First, then growing by Factor
// up to Max. The zero value means 2 minutes, doubling, at most 10 minutes.
type Backoff struct {
	First, Max time.Duration
	Factor     float64
}

// Next returns the wait after a wait of prev (0 for the first).
func (b Backoff) Next(prev time.Duration) time.Duration {
	first, maxWait, f := b.First, b.Max, b.Factor
	if first <= 0 {
		first = 2 * time.Minute
	}
	if maxWait < first {
		maxWait = max(first, 10*time.Minute)
	}
	if f < 1 {
		f = 2
	}
	if prev <= 0 {
		return first
	}
	return min(time.Duration(float64(prev)*f), maxWait)
}

// WaitOptions configure Wait.
type WaitOptions struct {
	Backoff Backoff
	// Until is when Wait gives up and returns the batch as it stands (running).
	Until time.Time
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Wait follows an install job until every update of batch has ended (installed, failed or
// pending a restart) or opt.Until, looking with backoff. It never restarts anything.
func Wait(ctx context.Context, r Runner, batch []string, opt WaitOptions) (Batch, error) {
	var wait time.Duration
	for {
		st, err := ReadUpdateStates(ctx, r, batch)
		if err != nil {
			return Batch{}, err
		}
		b := Summarize(batch, st)
		if b.Phase() != PhaseRunning {
			return b, nil
		}
		wait = opt.Backoff.Next(wait)
		now := opt.Now()
		if !now.Before(opt.Until) {
			return b, nil
		}
		if rest := opt.Until.Sub(now); rest < wait {
			wait = rest
		}
		if err := opt.Sleep(ctx, wait); err != nil {
			return b, err
		}
	}
}
