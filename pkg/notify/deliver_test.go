package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/scripts"
)

// hostile is text that would break out of a command line, PowerShell, cmd.exe or HTML if
// it were ever spliced into one.
const hostile = "Quotes \" ' `backtick` $(Remove-Item C:\\) ${env:PATH} %PATH% %% ^& | > < <script>alert('x')</script> &amp; &Mnemonic\nsecond line\n\nthird\ttab ' ; exit 1 \u00e9\u4e2d"

func TestPlainText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, text, line string }{
		{hostile, hostile, strings.ReplaceAll(strings.ReplaceAll(hostile, "\n", " "), "\t", " ")},
		{"a\r\nb\rc\nd", "a\nb\nc\nd", "a  b c d"},
		{"bell\x07 nul\x00 esc\x1b del\x7f c1\u0085 ok", "bell nul esc del c1 ok", "bell  nul  esc  del  c1  ok"},
		{"bad \xff utf8", "bad \uFFFD utf8", "bad \uFFFD utf8"},
		{"", "", ""},
	}
	for _, tc := range tests {
		if got := PlainText(tc.in); got != tc.text {
			t.Errorf("PlainText(%q) = %q, want %q", tc.in, got, tc.text)
		}
		if got := PlainLine(tc.in); got != tc.line {
			t.Errorf("PlainLine(%q) = %q, want %q", tc.in, got, tc.line)
		}
	}
}

func TestMsgText(t *testing.T) {
	t.Parallel()
	got := MsgText("Title \"x\" %y%\nz", hostile)
	want := "Title \"x\" %y% z\r\n\r\n" + strings.ReplaceAll(hostile, "\n", "\r\n")
	if got != want {
		t.Fatalf("MsgText = %q\nwant %q", got, want)
	}
	if controlRE.MatchString(got) {
		t.Error("MsgText holds control characters")
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	in := WindowPayload{Title: "T \"q\" <b>", Text: hostile + "\r\nlast", Organisation: "Org & Co", Contact: "x4357 <a href=x>", TimeoutSeconds: 60}
	enc, err := EncodePayload(in)
	if err != nil {
		t.Fatal(err)
	}
	if !base64RE.MatchString(enc) {
		t.Fatalf("payload %q is not plain base64", enc)
	}
	out, err := DecodePayload(enc)
	if err != nil {
		t.Fatal(err)
	}
	wantText := strings.ReplaceAll(hostile+"\nlast", "\n", "\r\n")
	if out.Text != wantText || out.Title != in.Title || out.Organisation != in.Organisation || out.Contact != in.Contact || out.TimeoutSeconds != 60 {
		t.Errorf("round trip: %+v", out)
	}
	for _, bad := range []string{"", "not base64!", "e30=\n", "'e30='", "e30", base64.StdEncoding.EncodeToString([]byte("not json")),
		base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe}), strings.Repeat("A", maxPayload+4)} {
		if _, err := DecodePayload(bad); err == nil {
			t.Errorf("DecodePayload(%.40q) accepted", bad)
		}
	}
}

// The PowerShell side mirrors these checks; the character classes must be the same.
func TestScriptsMirrorTheChecks(t *testing.T) {
	t.Parallel()
	for _, name := range []string{ScriptNotify, ScriptWindow} {
		text, err := scripts.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{controlRE.String(), base64RE.String()} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks the pattern %s", name, want)
			}
		}
	}
	notify, _ := scripts.Get(ScriptNotify)
	for _, want := range []string{
		"RedirectStandardInput = $true", // the text goes to msg.exe on stdin
		"' /TIME:'",                     // only the session ID and the time are arguments
		"-LogonType Interactive",        // the window runs in the user's session
		"New-ScheduledTaskPrincipal -UserId $user",
		"Unregister-ScheduledTask",
		"'nobody-logged-on'",
		"'# patchnight-op: notice-window/'",
	} {
		if !strings.Contains(notify, want) {
			t.Errorf("client-notify lacks %q", want)
		}
	}
	// The text is never spliced into a command line: no argument carries $p.Text or $text.
	for _, bad := range []string{"Arguments = $text", "Arguments = ([string]$p.Text", "msg.exe $", "& $msgExe"} {
		if strings.Contains(notify, bad) {
			t.Errorf("client-notify contains %q", bad)
		}
	}
	window, _ := scripts.Get(ScriptWindow)
	for _, want := range []string{"UseMnemonic = $false", "ReadOnly = $true", "ConvertFrom-Json", "FromBase64String"} {
		if !strings.Contains(window, want) {
			t.Errorf("notice-window lacks %q", want)
		}
	}
	for _, bad := range []string{"Invoke-Expression", "iex ", "[ScriptBlock]::Create", "WebBrowser", "DocumentText", "Rtf"} {
		if strings.Contains(window, bad) {
			t.Errorf("notice-window uses %s", bad)
		}
	}
}

func TestNewRequest(t *testing.T) {
	t.Parallel()
	m := Message{Method: MethodMsg, Title: "T", Text: hostile, Organisation: "O", Contact: "C", DisplayTime: 3 * time.Second}
	r, err := NewRequest(m)
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != hostile || r.TimeoutSeconds != 10 || r.MsgText != MsgText("T", hostile) || r.Payload != "" || r.WindowScript != "" {
		t.Errorf("msg request %+v", r)
	}
	m.Method, m.DisplayTime = MethodWindow, 48*time.Hour
	r, err = NewRequest(m)
	if err != nil {
		t.Fatal(err)
	}
	if r.TimeoutSeconds != 86400 || r.MsgText != "" {
		t.Errorf("window request %+v", r)
	}
	w, err := base64.StdEncoding.DecodeString(r.WindowScript)
	if err != nil || !strings.HasPrefix(string(w), "# patchnight-op: notice-window/1") {
		t.Errorf("window script %q, %v", w[:min(len(w), 40)], err)
	}
	p, err := DecodePayload(r.Payload)
	if err != nil || strings.ReplaceAll(p.Text, "\r\n", "\n") != hostile {
		t.Errorf("payload %+v, %v", p, err)
	}
	// The parameters as they travel: JSON keeps every character.
	b, _ := json.Marshal(r)
	var back Request
	if err := json.Unmarshal(b, &back); err != nil || back != r {
		t.Errorf("JSON round trip: %v", err)
	}

	long := strings.Repeat("x", config.MaxNoticeText+1)
	for _, tc := range []struct {
		m    Message
		want string
	}{
		{Message{Method: "email", Title: "t", Text: "x"}, "not known"},
		{Message{Method: "", Title: "t", Text: "x"}, "not known"},
		{Message{Method: MethodMsg, Title: "", Text: "x"}, "empty"},
		{Message{Method: MethodMsg, Title: "t", Text: " \x00\x07 "}, "empty"},
		{Message{Method: MethodMsg, Title: strings.Repeat("t", config.MaxNoticeTitle+1), Text: "x"}, "title"},
		{Message{Method: MethodWindow, Title: "t", Text: long}, "text"},
	} {
		_, err := NewRequest(tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exit.Code(err) != exit.Usage {
			t.Errorf("NewRequest(%+v) = %v, want usage error with %q", tc.m.Method, err, tc.want)
		}
	}
}

// runnerFunc is a client.Runner for checking what Deliver sends and how it reads answers.
type runnerFunc func(ctx context.Context, script string, params any, out any) error

func (f runnerFunc) Run(ctx context.Context, script string, params any, out any) error {
	return f(ctx, script, params, out)
}

func answer(v string) runnerFunc {
	return func(_ context.Context, script string, params any, out any) error {
		if script != ScriptNotify {
			return errors.New("wrong script " + script)
		}
		if _, ok := params.(Request); !ok {
			return errors.New("parameters are not a Request")
		}
		return json.Unmarshal([]byte(v), out)
	}
}

func TestDeliverReadsTheAnswer(t *testing.T) {
	t.Parallel()
	m := Message{Method: MethodMsg, Title: "t", Text: "x", DisplayTime: time.Minute}
	ctx := context.Background()
	tests := []struct {
		answer    string
		delivered bool
		users     []string
		reason    string
	}{
		{`{"delivered":true,"users":["LAB\\ann"],"method":"msg"}`, true, []string{`LAB\ann`}, ""},
		{`{"delivered":false,"users":[],"reason":"nobody-logged-on"}`, false, []string{}, NobodyLoggedOn},
		{`{"delivered":true,"users":["LAB\\bob\u001b[31m\r\nx", "  "]}`, true, []string{`LAB\bob [31m  x`}, ""},
		{`{"delivered":true,"users":[]}`, false, []string{}, "no user named in the answer"},
		{`{"delivered":false}`, false, []string{}, "not delivered"},
	}
	for _, tc := range tests {
		got, err := Deliver(ctx, answer(tc.answer), m)
		if err != nil {
			t.Fatal(err)
		}
		if got.Delivered != tc.delivered || got.Reason != tc.reason || strings.Join(got.Users, "|") != strings.Join(tc.users, "|") {
			t.Errorf("%s: got %+v", tc.answer, got)
		}
	}
	if _, err := Deliver(ctx, answer(`{}`), Message{Method: "x"}); exit.Code(err) != exit.Usage {
		t.Errorf("bad message reached the runner: %v", err)
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("site", 2*3600)
	s := DefaultSettings(loc)
	if s.Threshold != 3 || s.MinInterval != 4*time.Hour || s.Method != MethodWindow {
		t.Fatalf("defaults %+v", s)
	}
	// Quiet hours are the site's wall clock: 17:30 UTC is 19:30 at the site.
	if !s.QuietAt(time.Date(2026, 12, 10, 17, 30, 0, 0, time.UTC)) || s.QuietAt(time.Date(2026, 12, 10, 8, 0, 0, 0, time.UTC)) {
		t.Error("quiet hours not in the site's zone")
	}
	now := time.Date(2026, 12, 10, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		last time.Time
		soon bool
	}{{time.Time{}, false}, {now.Add(-time.Hour), true}, {now.Add(-4*time.Hour + time.Second), true}, {now.Add(-4 * time.Hour), false}} {
		if s.TooSoon(tc.last, now) != tc.soon {
			t.Errorf("TooSoon(%v) != %v", tc.last, tc.soon)
		}
	}
	if _, err := s.WithThreshold(0); exit.Code(err) != exit.Usage {
		t.Errorf("threshold 0: %v", err)
	}
	if c, err := s.WithThreshold(5); err != nil || c.Threshold != 5 || s.Threshold != 3 {
		t.Errorf("WithThreshold: %v", err)
	}
	n := config.Defaults().Notify
	n.Threshold = 0
	if _, err := NewSettings(n, nil); exit.Code(err) != exit.Usage {
		t.Errorf("threshold 0 accepted: %v", err)
	}
	n = config.Defaults().Notify
	n.MissingText = "{{.Machine}} {{.Secret}}"
	if _, err := NewSettings(n, nil); err == nil || !strings.Contains(err.Error(), "unknown placeholder {{.Secret}}") || strings.Contains(err.Error(), "\n") {
		t.Errorf("unknown placeholder: %v", err)
	}
}

// Values are shown as text: a title holding template syntax or hostile text is not
// evaluated again, and the rendered notice keeps it as it is.
func TestMessageRendersValuesAsText(t *testing.T) {
	t.Parallel()
	n := config.Defaults().Notify
	n.Organisation, n.Contact, n.Method = "Org \"IT\" & <b>", "call %HELPDESK% $(x)", MethodMsg
	n.MissingTitle = "{{.Organisation}}: {{.Update}}"
	n.MissingText = "{{.Machine}} misses {{.Update}} ({{.ArticleID}}/{{.BulletinID}}): {{.Title}}\n{{.Updates}}\n#{{.Count}} of {{.Threshold}}, call {{.Contact}}"
	s, err := NewSettings(n, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Message(journal.MissingNotice, Values{ArticleID: "5071234", Update: "KB5071234", Title: "{{.Contact}} " + hostile,
		Updates: "KB5071234 a\nMS17-010 b", Count: 2, Machine: "PC-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := "PC-1 misses KB5071234 (5071234/): {{.Contact}} " + hostile + "\nKB5071234 a\nMS17-010 b\n#2 of 3, call call %HELPDESK% $(x)"
	if m.Text != want || m.Title != "Org \"IT\" & <b>: KB5071234" || m.Method != MethodMsg {
		t.Errorf("rendered %q / %q", m.Title, m.Text)
	}
	// Long values are clipped to what a notice can carry.
	m, err = s.Message(journal.MissingNotice, Values{Title: strings.Repeat("long ", 1000), Update: strings.Repeat("U", 500)})
	if err != nil {
		t.Fatal(err)
	}
	if utf8.RuneCountInString(m.Text) > config.MaxNoticeText || utf8.RuneCountInString(m.Title) > config.MaxNoticeTitle {
		t.Errorf("not clipped: %d / %d", utf8.RuneCountInString(m.Title), utf8.RuneCountInString(m.Text))
	}
	if _, err := NewRequest(m); err != nil {
		t.Errorf("a clipped notice is refused: %v", err)
	}
	scan, err := s.Message(journal.ScanNotice, Values{Machine: "PC-1"})
	if err != nil || !strings.Contains(scan.Text, "PC-1") || !strings.Contains(scan.Text, "scan starts now") {
		t.Errorf("scan notice %q, %v", scan.Text, err)
	}
}

var updateRE = regexp.MustCompile(`^(KB[0-9]+|MS[0-9]{2}-[0-9]{3})$`)

func TestUpdateKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ article, bulletin, key, ref string }{
		{"5071234", "", "5071234", "KB5071234"},
		{"", "ms17-010", "MS17-010", "MS17-010"},
		{"4012212", "MS17-010", "4012212", "KB4012212"},
	} {
		if k, r := updateKey(tc.article, tc.bulletin), updateRef(tc.article, tc.bulletin); k != tc.key || r != tc.ref || !updateRE.MatchString(r) {
			t.Errorf("%q/%q: %q %q", tc.article, tc.bulletin, k, r)
		}
	}
}

func FuzzPayload(f *testing.F) {
	f.Add("title", hostile, "org", "contact")
	f.Add("", "", "", "")
	f.Add("\x00\r\n", "\r\r\n\n\x1b[0m", "\u0085", "\xff\xfe")
	f.Fuzz(func(t *testing.T, title, text, org, contact string) {
		enc, err := EncodePayload(WindowPayload{Title: title, Text: text, Organisation: org, Contact: contact, TimeoutSeconds: 60})
		if err != nil {
			t.Fatal(err)
		}
		if !base64RE.MatchString(enc) && enc != "" {
			t.Fatalf("payload %q is not plain base64", enc)
		}
		if len(enc) > maxPayload {
			return
		}
		p, err := DecodePayload(enc)
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != PlainLine(title) || p.Text != crlf(PlainText(text)) || p.Organisation != PlainLine(org) || p.Contact != PlainLine(contact) {
			t.Fatalf("round trip changed the notice: %+v", p)
		}
		if controlRE.MatchString(p.Text) || lineControlRE.MatchString(p.Title) || !utf8.ValidString(p.Text) {
			t.Fatalf("control characters survived: %+v", p)
		}
		m := MsgText(title, text)
		if controlRE.MatchString(m) || strings.Contains(strings.ReplaceAll(m, "\r\n", ""), "\n") || strings.Contains(strings.ReplaceAll(m, "\r\n", ""), "\r") {
			t.Fatalf("MsgText %q has stray control characters or line breaks", m)
		}
	})
}
