package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/patchnight/patchnight/pkg/clock"
	"github.com/patchnight/patchnight/pkg/exit"
)

// FanOutOptions configure FanOut. The zero value is usable.
type FanOutOptions struct {
	// Concurrency is how many hosts are worked on at once (default 64). For reference,
	// Invoke-Command throttles at 32 and Collection Commander at 20.
	Concurrency int
	// PerHostTimeout bounds each attempt on a host (0: only the Client's own operation
	// timeout applies).
	PerHostTimeout time.Duration
	// Retries is how many times a transient failure (unreachable, timeout, quota) is
	// retried (0: never; patchnight's profile default is 2); authentication, TLS, script
	// and protocol failures never are.
	Retries int
	// BackoffBase and BackoffMax shape the pause before retry n: a random duration in
	// [d/2, d] with d = min(BackoffMax, BackoffBase × 2^(n-1)) (defaults 1 s and 30 s).
	BackoffBase, BackoffMax time.Duration
	// Progress receives progress: a bar when IsTerminal, plain lines otherwise (every
	// LogEvery, default 10 s, and at the end). nil: no progress output.
	Progress   io.Writer
	IsTerminal bool
	LogEvery   time.Duration
	// Total is the number of hosts if known (for the bar and the log lines); 0 = unknown.
	Total int
	// Label names the action in progress output (e.g. "scan").
	Label string
}

// Outcome is the final state of one host.
type Outcome string

// The outcomes.
const (
	OutcomeOK       Outcome = "ok"
	OutcomeFailed   Outcome = "failed"
	OutcomeCanceled Outcome = "canceled" // the run was canceled before the host finished
)

// HostResult is the one final result of one host.
type HostResult[T any] struct {
	Host     string
	Outcome  Outcome
	Value    T      // what fn returned, on success
	Err      error  // the last error, on failure
	Reason   string // summary bucket of a failure: the *Error's Reason() ("timeout", "script:no-client"), or "error"
	Attempts int
	Elapsed  time.Duration
}

// Summary counts the outcomes of a fan-out.
type Summary struct {
	Total      int            `json:"total"`      // distinct hosts that got an outcome
	OK         int            `json:"ok"`         // hosts that succeeded
	Failed     int            `json:"failed"`     // hosts that failed
	Canceled   int            `json:"canceled"`   // hosts left unfinished by a cancel
	Duplicates int            `json:"duplicates"` // host names seen again and skipped
	Retries    int            `json:"retries"`    // attempts beyond the first, all hosts together
	ByReason   map[string]int `json:"by_reason"`  // failed hosts by reason
	Elapsed    time.Duration  `json:"elapsed_ns"`
}

// ExitCode maps the summary to patchnight's exit codes: 0 when every host succeeded, 2
// (partial) when some failed, 77 when all failed on authentication, 69 when all failed
// because they could not be reached, 1 when all failed otherwise (or for mixed reasons) or
// the run was canceled with nothing done.
func (s Summary) ExitCode() int {
	bad := s.Failed + s.Canceled
	switch {
	case bad == 0:
		return exit.OK
	case s.OK > 0:
		return exit.Partial
	case s.Failed > 0 && s.ByReason[string(KindAuth)] == s.Failed && s.Canceled == 0:
		return exit.NoPerm
	case s.Failed > 0 && s.ByReason[string(KindUnreachable)] == s.Failed && s.Canceled == 0:
		return exit.Unavailable
	default:
		return exit.Failed
	}
}

// String is one line: "1000 hosts: 850 ok, 150 failed (timeout 100, quota 50); 300 retries, 12.3s".
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d hosts: %d ok, %d failed", s.Total, s.OK, s.Failed)
	if len(s.ByReason) > 0 {
		reasons := make([]string, 0, len(s.ByReason))
		for r := range s.ByReason {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool {
			if s.ByReason[reasons[i]] != s.ByReason[reasons[j]] {
				return s.ByReason[reasons[i]] > s.ByReason[reasons[j]]
			}
			return reasons[i] < reasons[j]
		})
		b.WriteString(" (")
		for i, r := range reasons {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", r, s.ByReason[r])
		}
		b.WriteString(")")
	}
	if s.Canceled > 0 {
		fmt.Fprintf(&b, ", %d canceled", s.Canceled)
	}
	if s.Duplicates > 0 {
		fmt.Fprintf(&b, ", %d duplicates skipped", s.Duplicates)
	}
	fmt.Fprintf(&b, "; %d retries, %s", s.Retries, s.Elapsed.Round(10*time.Millisecond))
	return b.String()
}

// Hosts adapts a channel of host names to the iterator FanOut reads.
func Hosts(ch <-chan string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for h := range ch {
			if !yield(h) {
				return
			}
		}
	}
}

// FanOut runs fn for every host of the stream hosts with at most Concurrency hosts at a
// time, retrying transient failures with jittered backoff, and calls emit (if not nil)
// with exactly one final HostResult per distinct host (names compare case-insensitively;
// repeats are skipped and counted), one call at a time, as soon as each host is final, so
// a caller can journal results while the run goes on. Hosts are read from the stream only
// as workers free up, so a long stream is never held in memory.
//
// When ctx ends, hosts already read but not finished get OutcomeCanceled (running
// attempts see the canceled context), no more hosts are read, and FanOut returns after
// every worker has stopped.
func FanOut[T any](ctx context.Context, hosts iter.Seq[string], opts FanOutOptions, fn func(ctx context.Context, host string) (T, error), emit func(HostResult[T])) Summary {
	opts = opts.withDefaults()
	start := time.Now()
	jobs := make(chan string)
	results := make(chan HostResult[T], opts.Concurrency)

	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range jobs {
				results <- runHost(ctx, h, opts, fn)
			}
		}()
	}

	// The feeder reads the stream only as workers free up. A host it holds when ctx ends
	// gets its canceled result here; repeated names are counted and skipped.
	var dups atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		seen := map[string]struct{}{}
		for h := range hosts {
			key := strings.ToLower(strings.TrimSpace(h))
			if _, ok := seen[key]; ok {
				dups.Add(1)
				continue
			}
			seen[key] = struct{}{}
			select {
			case jobs <- h:
			case <-ctx.Done():
				results <- HostResult[T]{Host: h, Outcome: OutcomeCanceled, Err: ctx.Err(), Reason: string(KindCanceled)}
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	sum := Summary{ByReason: map[string]int{}}
	prog := newProgress(opts)
	for results != nil {
		select {
		case r, ok := <-results:
			if !ok {
				results = nil
				continue
			}
			sum.Total++
			sum.Retries += max(r.Attempts-1, 0)
			switch r.Outcome {
			case OutcomeOK:
				sum.OK++
			case OutcomeCanceled:
				sum.Canceled++
			default:
				sum.Failed++
				sum.ByReason[r.Reason]++
			}
			if emit != nil {
				emit(r)
			}
			prog.update(sum)
		case <-prog.tick():
			prog.log(sum, false)
		}
	}
	sum.Duplicates = int(dups.Load())
	sum.Elapsed = time.Since(start)
	prog.finish(sum)
	return sum
}

func (o FanOutOptions) withDefaults() FanOutOptions {
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	o.Retries = max(o.Retries, 0)
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.BackoffMax < o.BackoffBase {
		o.BackoffMax = o.BackoffBase
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 10 * time.Second
	}
	if o.Label == "" {
		o.Label = "hosts"
	}
	return o
}

// runHost runs the attempts on one host and returns its final result.
func runHost[T any](ctx context.Context, host string, opts FanOutOptions, fn func(context.Context, string) (T, error)) HostResult[T] {
	start := time.Now()
	r := HostResult[T]{Host: host}
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			r.Outcome, r.Err, r.Reason = OutcomeCanceled, ctx.Err(), string(KindCanceled)
			break
		}
		r.Attempts = attempt
		actx, cancel := ctx, context.CancelFunc(func() {})
		if opts.PerHostTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, opts.PerHostTimeout)
		}
		v, err := fn(actx, host)
		cancel()
		if err == nil {
			r.Outcome, r.Value, r.Err, r.Reason = OutcomeOK, v, nil, ""
			break
		}
		r.Err = err
		if ctx.Err() != nil {
			r.Outcome, r.Reason = OutcomeCanceled, string(KindCanceled)
			break
		}
		r.Outcome, r.Reason = OutcomeFailed, reasonOf(err)
		if attempt > opts.Retries || !IsTransient(err) {
			break
		}
		if !sleepCtx(ctx, backoff(opts, attempt)) {
			r.Outcome, r.Reason = OutcomeCanceled, string(KindCanceled)
			break
		}
	}
	r.Elapsed = time.Since(start)
	return r
}

func reasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return string(KindTimeout)
	}
	return "error"
}

// backoff is the pause before retry n (n ≥ 1): uniform in [d/2, d],
// d = min(max, base × 2^(n-1)).
func backoff(o FanOutOptions, n int) time.Duration {
	d := o.BackoffBase
	for i := 1; i < n && d < o.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, o.BackoffMax)
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleepCtx waits d; it reports whether d passed before ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, d) == nil }

// progress shows how a fan-out goes: a bar on a terminal, plain lines otherwise.
// progressbar/v3 ignores whether its writer is a terminal (it would fill a log file with
// redraws) and stops counting when hidden, so the caller says IsTerminal and the counts
// are kept here.
type progress struct {
	opts   FanOutOptions
	bar    *progressbar.ProgressBar
	ticker *time.Ticker
	start  time.Time
}

func newProgress(o FanOutOptions) *progress {
	p := &progress{opts: o, start: time.Now()}
	if o.Progress == nil {
		return p
	}
	if o.IsTerminal {
		total := int64(o.Total)
		if total <= 0 {
			total = -1
		}
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(o.Progress),
			progressbar.OptionSetDescription(o.Label),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return p
	}
	p.ticker = time.NewTicker(o.LogEvery)
	return p
}

// tick is the channel of the periodic log line (nil, never ready, on a terminal).
func (p *progress) tick() <-chan time.Time {
	if p.ticker == nil {
		return nil
	}
	return p.ticker.C
}

func (p *progress) update(s Summary) {
	if p.bar != nil {
		_ = p.bar.Set(s.Total)
	}
}

func (p *progress) log(s Summary, final bool) {
	if p.opts.Progress == nil || p.bar != nil {
		return
	}
	of := ""
	if p.opts.Total > 0 {
		of = fmt.Sprintf("/%d", p.opts.Total)
	}
	state := "running"
	if final {
		state = "done"
	}
	_, _ = fmt.Fprintf(p.opts.Progress, "%s: %s %d%s hosts (%d ok, %d failed) after %s\n",
		p.opts.Label, state, s.Total, of, s.OK, s.Failed, time.Since(p.start).Round(time.Second))
}

func (p *progress) finish(s Summary) {
	if p.ticker != nil {
		p.ticker.Stop()
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	p.log(s, true)
}
