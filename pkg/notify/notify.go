// Package notify talks to the users of the machines the restart method works on (issue 7):
// a notice to the logged-on user before a scan starts on a machine whose scan is behind the
// catalog (the watcher, WatchPass), the Thursday notice to the users of machines still
// missing an update (Missing), and the counting that escalates a machine to a person once
// its users have been told often enough (Escalations).
//
// Delivery is one remote script, scripts/client-notify.ps1 (Deliver): msg.exe to the user's
// session, or a small window started in the user's session by a one-shot scheduled task.
// The text travels as data (JSON parameters, msg.exe's standard input, a base64 argument
// the window script decodes) and is shown through plain-text properties, so quotes,
// backticks, $(), %, <script> and line breaks reach the user as they are written.
//
// Policy (Settings): no second notice to one machine within the minimum interval (notices
// of both kinds count), no notices in the quiet hours of the site's time zone, and a
// threshold: a machine whose users were told Threshold times about an update it still
// misses is escalated instead of being told again, and is told no more about it.
// Escalated machines are recorded in the journal, added to the owned needs-attention
// collection through the SMS Provider, and listed by Escalations for `notify escalations`
// and the morning report.
//
// Every notice, delivered or not, is recorded in the journal per machine, user and update.
package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/template"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/site"
)

// Settings are the notice texts and the policy, checked.
type Settings struct {
	Method       string             // MethodWindow or MethodMsg
	Organisation string             // {{.Organisation}}, the window's header
	Contact      string             // {{.Contact}}, the window's footer
	DisplayTime  time.Duration      // how long a notice stays on screen
	MinInterval  time.Duration      // no second notice to one machine within this time
	Quiet        config.QuietHours  // no notices in this span of the day
	Location     *time.Location     // the site's time zone, for Quiet
	Threshold    int                // notices about one update before escalation
	scanTitle    *template.Template // the templates, parsed
	scanText     *template.Template
	missingTitle *template.Template
	missingText  *template.Template
}

// NewSettings checks the profile's notify section (config.Notify) and parses its
// templates. loc is the site's time zone (nil: UTC).
func NewSettings(n config.Notify, loc *time.Location) (*Settings, error) {
	if loc == nil {
		loc = time.UTC
	}
	q, err := config.ParseQuietHours(n.QuietHours)
	if err != nil {
		return nil, exit.Usagef("write it as HH:MM-HH:MM, or none", "notify.quiet_hours: %v", err)
	}
	if n.Threshold < 1 {
		return nil, exit.Usagef("use 1 or more (3 is the default)", "notify threshold %d: a machine must be told at least once before it is escalated", n.Threshold)
	}
	if n.Method != MethodWindow && n.Method != MethodMsg {
		return nil, exit.Usagef("use window or msg", "notify.method %q is not a delivery method", n.Method)
	}
	if n.MinInterval < 0 {
		return nil, exit.Usagef("use a duration like 4h, or 0 for no minimum", "notify.min_interval is negative")
	}
	s := &Settings{Method: n.Method, Organisation: PlainLine(n.Organisation), Contact: PlainLine(n.Contact),
		DisplayTime: n.DisplayTime.Std(), MinInterval: n.MinInterval.Std(), Quiet: q, Location: loc, Threshold: n.Threshold}
	for _, t := range []struct {
		dst  **template.Template
		key  string
		text string
	}{
		{&s.scanTitle, "scan_title", n.ScanTitle}, {&s.scanText, "scan_text", n.ScanText},
		{&s.missingTitle, "missing_title", n.MissingTitle}, {&s.missingText, "missing_text", n.MissingText},
	} {
		if *t.dst, err = config.ParseNoticeTemplate("notify."+t.key, t.text); err != nil {
			return nil, exit.Wrap(exit.Usage, err, "fix the template in the profile's notify section", "bad notice template")
		}
	}
	return s, nil
}

// DefaultSettings are the defaults of config.Defaults, in loc.
func DefaultSettings(loc *time.Location) *Settings {
	s, err := NewSettings(config.Defaults().Notify, loc)
	if err != nil {
		// The defaults are constants checked by the tests; failing here is a build defect.
		panic("notify: default settings: " + err.Error())
	}
	return s
}

// WithThreshold returns a copy with another threshold (refused below 1).
func (s *Settings) WithThreshold(n int) (*Settings, error) {
	if n < 1 {
		return nil, exit.Usagef("use 1 or more", "threshold %d: a machine must be told at least once before it is escalated", n)
	}
	c := *s
	c.Threshold = n
	return &c, nil
}

// QuietAt reports whether t falls in the quiet hours (in the site's zone).
func (s *Settings) QuietAt(t time.Time) bool { return s.Quiet.Quiet(t.In(s.Location)) }

// TooSoon reports whether a notice now would follow the last one (zero: none) within the
// minimum interval.
func (s *Settings) TooSoon(last, now time.Time) bool {
	return !last.IsZero() && s.MinInterval > 0 && now.Sub(last) < s.MinInterval
}

// Values fill a notice template. They are shown as plain text.
type Values struct {
	ArticleID    string // digits
	BulletinID   string // MSyy-nnn
	Update       string // KB5071234 or MS17-010
	Title        string // the update's title
	Updates      string // every update of the notice, one per line
	Organisation string
	Contact      string
	Count        int // this notice's number for the machine (and update), from 1
	Threshold    int
	Machine      string
}

// Kinds of notice texts.
const (
	scanKind    = journal.ScanNotice
	missingKind = journal.MissingNotice
)

// Message renders the notice of a kind (scan or missing) with v; Organisation, Contact and
// Threshold are filled from the settings.
func (s *Settings) Message(kind journal.NoticeKind, v Values) (Message, error) {
	v.Organisation, v.Contact, v.Threshold = s.Organisation, s.Contact, s.Threshold
	tt, tx := s.scanTitle, s.scanText
	if kind == missingKind {
		tt, tx = s.missingTitle, s.missingText
	}
	title, err := render(tt, v)
	if err != nil {
		return Message{}, err
	}
	text, err := render(tx, v)
	if err != nil {
		return Message{}, err
	}
	return Message{Method: s.Method, Title: clipRunes(PlainLine(title), config.MaxNoticeTitle),
		Text: clipRunes(PlainText(text), config.MaxNoticeText), Organisation: s.Organisation, Contact: s.Contact,
		DisplayTime: s.DisplayTime}, nil
}

func render(t *template.Template, v Values) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("render %s: %w", t.Name(), err)
	}
	return b.String(), nil
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Env is what the flows need: the site database, the journal, a way to reach each client,
// the SMS Provider (optional), the settings, a clock and a logger.
type Env struct {
	Site    *site.DB
	Journal *journal.DB
	// Connect returns a runner for one host (its DNS name) and a function that releases
	// it (the session's Hosts.Client).
	Connect func(host string) (client.Runner, func(), error)
	// Provider adds escalated machines to the needs-attention collection; nil records the
	// escalations without touching a collection.
	Provider *provider.Provider
	Settings *Settings
	Now      func() time.Time // nil: time.Now
	Log      *slog.Logger     // nil: discard
	// Concurrency is how many hosts are worked on at once (default 32).
	Concurrency int
	// DNSSuffix is appended to machine names without a dot to reach them (winrm.dns_suffix).
	DNSSuffix string
	// Run and Step, when set, are the night run and step the flow runs in: notices carry
	// the run, and each host's outcome is also recorded as a host action of the step
	// (notify-scan, notify-missing) so that the runner can resume a step.
	Run  journal.RunID
	Step journal.StepID
}

func (e *Env) check() error {
	switch {
	case e.Site == nil:
		return fmt.Errorf("notify: no site database")
	case e.Journal == nil:
		return fmt.Errorf("notify: no journal")
	case e.Connect == nil:
		return fmt.Errorf("notify: no way to reach the clients")
	case e.Settings == nil:
		return fmt.Errorf("notify: no settings")
	}
	return nil
}

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

func (e *Env) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return e.Log
}

func (e *Env) concurrency() int {
	if e.Concurrency <= 0 {
		return 32
	}
	return e.Concurrency
}

// address is how a machine from the site database is reached.
func (e *Env) address(name string) string {
	return remote.Qualify(name, e.DNSSuffix)
}

// record writes a host action of the night step, when the flow runs in one.
func (e *Env) record(ctx context.Context, action, host string, rid int64, outcome journal.Outcome, reason string) error {
	if e.Run == 0 || e.Step == 0 {
		return nil
	}
	return e.Journal.Record(ctx, journal.HostOutcome{Run: e.Run, Step: e.Step, Host: host, ResourceID: rid,
		Action: action, Outcome: outcome, Reason: reason, Channel: "winrm", At: e.now()})
}
