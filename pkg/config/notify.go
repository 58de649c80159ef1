package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Notify holds the settings of user notices and escalation (issue 7): what the notices say,
// how they reach the user, and the policy that limits them.
type Notify struct {
	Method       string   `yaml:"method"`        // window (a small window started in the user's session) or msg (msg.exe)
	Organisation string   `yaml:"organisation"`  // shown in the window's header and in {{.Organisation}}
	Contact      string   `yaml:"contact"`       // who to call, {{.Contact}}
	DisplayTime  Duration `yaml:"display_time"`  // how long a notice stays on screen
	MinInterval  Duration `yaml:"min_interval"`  // no second notice to one machine within this time
	QuietHours   string   `yaml:"quiet_hours"`   // HH:MM-HH:MM in the site's time zone, no notices then; "" or "none" = never quiet
	Threshold    int      `yaml:"threshold"`     // notices about one update before the machine is escalated instead
	ScanTitle    string   `yaml:"scan_title"`    // template: the watcher's notice title
	ScanText     string   `yaml:"scan_text"`     // template: the watcher's notice ("a scan is about to start")
	MissingTitle string   `yaml:"missing_title"` // template: the Thursday notice title
	MissingText  string   `yaml:"missing_text"`  // template: the Thursday notice ("still missing an update")
}

// Default notice texts. Placeholders: NoticePlaceholders.
const (
	DefaultScanTitle    = "{{.Organisation}}: update scan"
	DefaultScanText     = "This computer ({{.Machine}}) is about to check for software updates: a scan starts now, and then an update will install. You can keep working.\nQuestions? Contact {{.Contact}}."
	DefaultMissingTitle = "{{.Organisation}}: an update is missing"
	DefaultMissingText  = "This computer ({{.Machine}}) is still missing an update: {{.Update}} {{.Title}}.\nIt will try to install it again. You can keep working.\nThis is notice number {{.Count}}. If you get this notice more than {{.Threshold}} times, the update is failing on this computer: please call {{.Contact}}."
)

// Notice limits: a notice must fit msg.exe and a task's argument list on the client.
const (
	MaxNoticeTitle = 120  // characters of a rendered title
	MaxNoticeText  = 2000 // characters of a rendered text
	maxNoticeValue = 100  // characters of the organisation and contact
)

func defaultNotify() Notify {
	return Notify{
		Method: "window", Organisation: "IT", Contact: "the IT service desk",
		DisplayTime: Duration(15 * time.Minute), MinInterval: Duration(4 * time.Hour),
		QuietHours: "19:00-07:00", Threshold: 3,
		ScanTitle: DefaultScanTitle, ScanText: DefaultScanText,
		MissingTitle: DefaultMissingTitle, MissingText: DefaultMissingText,
	}
}

// NoticePlaceholders lists the values a notice template may use, as {{.Name}}:
// ArticleID (digits), BulletinID (MSyy-nnn), Update (KB5071234 or MS17-010), Title (the
// update's title), Updates (every update of the notice, one per line), Organisation,
// Contact, Count (this notice's number for the machine and update, from 1), Threshold,
// Machine (the computer's name).
func NoticePlaceholders() []string {
	return []string{"ArticleID", "BulletinID", "Update", "Title", "Updates", "Organisation", "Contact", "Count", "Threshold", "Machine"}
}

// ParseNoticeTemplate parses a notice template: text and plain {{.Placeholder}} actions
// naming one of NoticePlaceholders, nothing else (no functions, pipelines, conditions).
// The error is one line naming the template (what) and the offending part.
func ParseNoticeTemplate(what, text string) (*template.Template, error) {
	allowed := NoticePlaceholders()
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%s is empty", what)
	}
	t, err := template.New(what).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", what, strings.Join(strings.Fields(err.Error()), " "))
	}
	if len(t.Templates()) != 1 {
		return nil, fmt.Errorf("%s: {{define}} and {{block}} are not allowed; use text and %s", what, placeholderList(allowed))
	}
	for _, n := range t.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
		case *parse.ActionNode:
			p := n.Pipe
			var field *parse.FieldNode
			ok := len(p.Decl) == 0 && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1
			if ok {
				field, ok = p.Cmds[0].Args[0].(*parse.FieldNode)
			}
			if !ok || len(field.Ident) != 1 {
				return nil, fmt.Errorf("%s: %s is not a plain placeholder; use %s", what, n.String(), placeholderList(allowed))
			}
			if !slices.Contains(allowed, field.Ident[0]) {
				return nil, fmt.Errorf("%s: unknown placeholder {{.%s}}; use %s", what, field.Ident[0], placeholderList(allowed))
			}
		default:
			return nil, fmt.Errorf("%s: %s is not allowed; use text and %s", what, n.String(), placeholderList(allowed))
		}
	}
	return t, nil
}

func placeholderList(allowed []string) string {
	out := make([]string, len(allowed))
	for i, a := range allowed {
		out[i] = "{{." + a + "}}"
	}
	return strings.Join(out, " ")
}

// QuietHours is a daily span of wall-clock time (in the site's zone) without notices.
// Start and End are minutes after midnight; a span that ends before it starts runs past
// midnight (19:00-07:00). The zero value (Off) is never quiet.
type QuietHours struct {
	On         bool
	Start, End int // minutes after midnight, 0..1439
}

// ParseQuietHours reads "HH:MM-HH:MM"; "", "none" and "off" mean never quiet.
func ParseQuietHours(s string) (QuietHours, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "", "none", "off":
		return QuietHours{}, nil
	}
	a, b, ok := strings.Cut(t, "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("%q is not a span like 19:00-07:00", s)
	}
	start, err1 := clockMinutes(a)
	end, err2 := clockMinutes(b)
	if err1 != nil || err2 != nil {
		return QuietHours{}, fmt.Errorf("%q is not a span like 19:00-07:00", s)
	}
	if start == end {
		return QuietHours{}, fmt.Errorf("%q starts and ends at the same time; use none for no quiet hours", s)
	}
	return QuietHours{On: true, Start: start, End: end}, nil
}

func clockMinutes(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	hh, err := strconv.Atoi(h)
	if err != nil || hh < 0 || hh > 23 {
		return 0, fmt.Errorf("bad hour %q", s)
	}
	mm, err := strconv.Atoi(m)
	if err != nil || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("bad minute %q", s)
	}
	return hh*60 + mm, nil
}

// Quiet reports whether the wall-clock time t (already in the site's zone) falls in the span.
func (q QuietHours) Quiet(t time.Time) bool {
	if !q.On {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	if q.Start < q.End {
		return m >= q.Start && m < q.End
	}
	return m >= q.Start || m < q.End
}

// String is "19:00-07:00" or "none".
func (q QuietHours) String() string {
	if !q.On {
		return "none"
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.Start/60, q.Start%60, q.End/60, q.End%60)
}

// validate refuses notify settings that cannot work: an unknown method, an unknown
// placeholder, a threshold below 1, a bad quiet-hours span, control characters in the
// organisation or contact.
func (n Notify) validate() error {
	switch n.Method {
	case "window", "msg":
	default:
		return exit.Usagef("use window or msg", "notify.method %q is not a delivery method", n.Method)
	}
	if n.Threshold < 1 {
		return exit.Usagef("use 1 or more (3 is the default)", "notify.threshold %d: a machine must be told at least once before it is escalated", n.Threshold)
	}
	if n.MinInterval < 0 {
		return exit.Usagef("use a duration like 4h, or 0 for no minimum", "notify.min_interval %s is negative", n.MinInterval.Std())
	}
	if n.DisplayTime.Std() < 10*time.Second || n.DisplayTime.Std() > 24*time.Hour {
		return exit.Usagef("use a duration from 10s to 24h", "notify.display_time %s is out of range", n.DisplayTime.Std())
	}
	if _, err := ParseQuietHours(n.QuietHours); err != nil {
		return exit.Usagef("write it as HH:MM-HH:MM in the site's time zone, or none", "notify.quiet_hours: %v", err)
	}
	for key, v := range map[string]string{"organisation": n.Organisation, "contact": n.Contact} {
		if strings.TrimSpace(v) == "" || len([]rune(v)) > maxNoticeValue || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return exit.Usagef(fmt.Sprintf("one line of 1 to %d characters", maxNoticeValue), "notify.%s %q is not usable", key, v)
		}
	}
	for _, t := range []struct{ key, text string }{
		{"scan_title", n.ScanTitle}, {"scan_text", n.ScanText},
		{"missing_title", n.MissingTitle}, {"missing_text", n.MissingText},
	} {
		if _, err := ParseNoticeTemplate("notify."+t.key, t.text); err != nil {
			return exit.Wrap(exit.Usage, err, "fix the template in the profile's notify section", "bad notice template")
		}
	}
	return nil
}
