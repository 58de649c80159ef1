package notify_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/remote"
)

// failingTrigger is a client.Runner whose scan triggers fail with err for the first n
// calls (n < 0: every call); everything else goes to the real client.
type failingTrigger struct {
	client.Runner
	mu    *sync.Mutex
	calls *int
	n     int
	err   error
}

func (f failingTrigger) Run(ctx context.Context, script string, params, out any) error {
	if script == "client-trigger-schedule" {
		f.mu.Lock()
		*f.calls++
		fail := f.n < 0 || *f.calls <= f.n
		f.mu.Unlock()
		if fail {
			return f.err
		}
	}
	return f.Runner.Run(ctx, script, params, out)
}

// A scan trigger that reached the machine and failed (the script's error, a timeout) is
// tried again at the next passes of the same day, without a second notice, until
// ScanAttemptsPerDay triggers failed; the next day starts afresh. A machine not reached
// at all is tried again every pass, as before. The watcher used to count a machine whose
// trigger had failed as seen, and never scanned it again that day; a timed-out trigger was
// retried every pass, through the notice policy, without a bound.
func TestWatcherRetriesFailedScanTrigger(t *testing.T) {
	t.Parallel()
	type want struct {
		handled bool
		note    string // NoticeNote ("": told)
		scanned bool
		attempt int
	}
	told := want{handled: true, attempt: 1}                                                 // the first pass: told, the trigger fails
	retried := func(n int, ok bool) want { return want{true, notify.NoteScanRetry, ok, n} } // scan only
	alone := want{}
	for _, tc := range []struct {
		name  string
		kind  remote.Kind
		fails int // the first fails triggers fail; -1: all
		want  []want
	}{
		{"script error once", remote.KindScript, 1, []want{told, retried(2, true), alone, alone}},
		{"script error every time", remote.KindScript, -1, []want{told, retried(2, false), retried(3, false), alone}},
		{"timeout every time", remote.KindTimeout, -1, []want{told, retried(2, false), retried(3, false), alone}},
		{"not reached every time", remote.KindUnreachable, -1, []want{{handled: true}, {true, notify.NoteTooSoon, false, 0},
			{true, notify.NoteTooSoon, false, 0}, {true, notify.NoteTooSoon, false, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wednesday := time.Date(2026, 12, 9, 10, 0, 0, 0, time.UTC)
			s := newSite(t, wednesday)
			ctx := context.Background()
			// F: online, behind (its scans fail), someone logged on.
			f, _ := s.pick(`h.Power = 'on' AND h.ScanFault <> 0`)
			if err := s.lab.LogOn(ctx, f, `LAB\frank`); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			calls := 0
			env := s.env(notify.DefaultSettings(time.UTC))
			env.Connect = func(host string) (client.Runner, func(), error) {
				r, release, err := s.hosts.Client(host)
				if err != nil || !strings.EqualFold(host, f+"."+lab.DNSSuffix) {
					return r, release, err
				}
				e := &remote.Error{Host: host, Op: "client-trigger-schedule", Kind: tc.kind, Message: "injected " + string(tc.kind)}
				return failingTrigger{Runner: r, mu: &mu, calls: &calls, n: tc.fails, err: e}, release, nil
			}
			check := func(i int, w want, p notify.PassResult) {
				t.Helper()
				h := watched(p, f)
				if (h != nil) != w.handled {
					t.Fatalf("pass %d: %s handled %v, want %v (%+v)", i+1, f, h != nil, w.handled, p.Hosts)
				}
				if h == nil {
					return
				}
				if h.Noticed != (w.note == "") || (w.note != "" && h.NoticeNote != w.note) || h.Scanned != w.scanned || h.ScanAttempt != w.attempt {
					t.Errorf("pass %d: %s %+v; want notice note %q, scanned %v, attempt %d", i+1, f, *h, w.note, w.scanned, w.attempt)
				}
			}
			for i, w := range tc.want {
				s.clock.Set(wednesday.Add(time.Duration(i) * 30 * time.Minute))
				p, err := notify.WatchPass(ctx, env, notify.WatchOptions{})
				if err != nil {
					t.Fatal(err)
				}
				check(i, w, p)
			}
			// One notice all day: retries tell nobody, and the ledger agrees with the lab.
			delivered := func() int {
				ns, err := s.j.Notices(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, x := range ns {
					if x.Delivered {
						n++
					}
				}
				return n
			}
			if got, rec := s.noticesTo()[f], delivered(); got != 1 || rec != 1 {
				t.Errorf("%s was shown %d notices, %d recorded delivered; want 1", f, got, rec)
			}
			// The next day starts afresh: told and triggered again.
			s.clock.Set(wednesday.Add(24 * time.Hour))
			p, err := notify.WatchPass(ctx, env, notify.WatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			first := tc.want[0]
			first.scanned = tc.fails >= 0 // the failures are used up
			check(len(tc.want), first, p)
		})
	}
}
