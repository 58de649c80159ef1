package notify

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/scripts"
)

// Delivery methods.
const (
	MethodWindow = "window" // a small window in the user's session, started by a one-shot scheduled task
	MethodMsg    = "msg"    // msg.exe to the user's session
)

// Script names (scripts/<name>.ps1).
const (
	ScriptNotify = "client-notify" // shows a notice to the logged-on users
	ScriptWindow = "notice-window" // the window client-notify starts in the user's session
)

// NobodyLoggedOn is the reason a notice was not delivered because nobody was logged on.
const NobodyLoggedOn = "nobody-logged-on"

// Limits of what travels to the client (client-notify.ps1 checks them again).
const (
	maxMsgText = 2400  // characters of msg.exe's standard input
	maxPayload = 16000 // characters of the window's base64 payload (it is a task argument)
)

// Message is one notice as the user sees it.
type Message struct {
	Method       string        // MethodWindow or MethodMsg
	Title        string        // one line
	Text         string        // the notice, plain text, may hold line breaks
	Organisation string        // one line, the window's header
	Contact      string        // one line, the window's footer
	DisplayTime  time.Duration // how long it stays on screen
}

// Request is the parameter object of client-notify. Title and Text are the notice as
// written (line breaks as LF); MsgText and Payload are the same text prepared for the
// method, so that the script never has to escape anything.
type Request struct {
	Method         string `json:"Method"`
	Title          string `json:"Title"`
	Text           string `json:"Text"`
	Organisation   string `json:"Organisation"`
	Contact        string `json:"Contact"`
	TimeoutSeconds int    `json:"TimeoutSeconds"`
	MsgText        string `json:"MsgText,omitempty"`      // msg: msg.exe's standard input
	Payload        string `json:"Payload,omitempty"`      // window: EncodePayload of the notice
	WindowScript   string `json:"WindowScript,omitempty"` // window: base64 of scripts/notice-window.ps1
	NoticeID       string `json:"NoticeID,omitempty"`     // window: 32 hex digits naming the notice's file and task
	// WindowCommand is the window task's argument list (window): -EncodedCommand of a
	// launcher that runs the window script if its hash matches, with this notice's file
	// (scripts.NoticeArguments); no -File and no -ExecutionPolicy.
	WindowCommand string `json:"WindowCommand,omitempty"`
}

// WindowPayload is what the window script decodes from its argument.
type WindowPayload struct {
	Title          string `json:"Title"`
	Text           string `json:"Text"`
	Organisation   string `json:"Organisation"`
	Contact        string `json:"Contact"`
	TimeoutSeconds int    `json:"TimeoutSeconds"`
}

// Result is client-notify's answer.
type Result struct {
	Delivered bool     `json:"delivered"`
	Users     []string `json:"users"`            // the users shown the notice (DOMAIN\name)
	Reason    string   `json:"reason,omitempty"` // why not: nobody-logged-on, msg-failed, task-did-not-start
	Method    string   `json:"method,omitempty"`
}

// controlRE matches what PlainText drops: C0 controls but TAB, LF and CR; DEL; C1 controls.
// client-notify.ps1 and notice-window.ps1 use the same class.
var controlRE = regexp.MustCompile(`[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]`)

// lineControlRE is every control character, line breaks and TAB included.
var lineControlRE = regexp.MustCompile(`[\x00-\x1F\x7F-\x9F]`)

// base64RE is standard padded base64, the only form a payload may take.
var base64RE = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`)

// PlainText makes text safe to show as plain text: invalid UTF-8 is replaced, control
// characters other than TAB and line breaks are dropped, and line breaks become LF.
// Everything else (quotes, backticks, $(), %, <, &) is kept as it is: the text is never
// spliced into a command line, PowerShell or markup, so nothing needs escaping.
func PlainText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return controlRE.ReplaceAllString(s, "")
}

// PlainLine is PlainText for a one-line value: every control character, line breaks
// included, becomes a space.
func PlainLine(s string) string {
	return lineControlRE.ReplaceAllString(strings.ToValidUTF8(s, "\uFFFD"), " ")
}

// crlf turns LF line breaks into CR LF (a Windows text box and msg.exe break lines there).
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// MsgText is what msg.exe reads on standard input: the title, a blank line and the text,
// with CR LF line breaks. It goes to msg.exe's standard input, never its command line, so
// quotes and % reach the user as they are (no cmd.exe is involved either).
func MsgText(title, text string) string {
	return crlf(PlainLine(title) + "\n\n" + PlainText(text))
}

// EncodePayload encodes the window's notice: base64 (standard, padded) of UTF-8 JSON, with
// the text's line breaks as CR LF. The result holds only [A-Za-z0-9+/=], so it can stand in
// a task's argument list without quoting.
func EncodePayload(p WindowPayload) (string, error) {
	p.Title, p.Organisation, p.Contact = PlainLine(p.Title), PlainLine(p.Organisation), PlainLine(p.Contact)
	p.Text = crlf(PlainText(p.Text))
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode the notice: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// DecodePayload is what the window script does with its argument: it checks the form and
// decodes the notice.
func DecodePayload(s string) (WindowPayload, error) {
	var p WindowPayload
	if len(s) > maxPayload || !base64RE.MatchString(s) {
		return p, errors.New("the notice payload is not base64")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return p, fmt.Errorf("the notice payload: %w", err)
	}
	if !utf8.Valid(b) {
		return p, errors.New("the notice payload is not UTF-8")
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("the notice payload: %w", err)
	}
	return p, nil
}

// NewRequest validates a message and prepares client-notify's parameters for its method.
func NewRequest(m Message) (Request, error) {
	title, text := PlainLine(m.Title), PlainText(m.Text)
	switch {
	case m.Method != MethodWindow && m.Method != MethodMsg:
		return Request{}, exit.Usagef("use window or msg", "notice method %q is not known", m.Method)
	case strings.TrimSpace(title) == "" || strings.TrimSpace(text) == "":
		return Request{}, exit.Usagef("give the notice a title and a text", "empty notice")
	case utf8.RuneCountInString(title) > config.MaxNoticeTitle:
		return Request{}, exit.Usagef(fmt.Sprintf("shorten it to %d characters", config.MaxNoticeTitle), "notice title is %d characters long", utf8.RuneCountInString(title))
	case utf8.RuneCountInString(text) > config.MaxNoticeText:
		return Request{}, exit.Usagef(fmt.Sprintf("shorten it to %d characters", config.MaxNoticeText), "notice text is %d characters long", utf8.RuneCountInString(text))
	}
	secs := int(m.DisplayTime / time.Second)
	secs = min(max(secs, 10), 86400)
	req := Request{Method: m.Method, Title: title, Text: text, Organisation: PlainLine(m.Organisation),
		Contact: PlainLine(m.Contact), TimeoutSeconds: secs}
	switch m.Method {
	case MethodMsg:
		req.MsgText = MsgText(title, text)
		if utf8.RuneCountInString(req.MsgText) > maxMsgText {
			return Request{}, exit.Usagef("shorten the notice", "notice is too long for msg.exe")
		}
	case MethodWindow:
		p, err := EncodePayload(WindowPayload{Title: title, Text: text, Organisation: req.Organisation, Contact: req.Contact, TimeoutSeconds: secs})
		if err != nil {
			return Request{}, err
		}
		if len(p) > maxPayload {
			return Request{}, exit.Usagef("shorten the notice", "notice is too long for the window's argument list")
		}
		w, err := scripts.Get(ScriptWindow)
		if err != nil {
			return Request{}, fmt.Errorf("notice window script: %w", err)
		}
		req.Payload, req.WindowScript = p, base64.StdEncoding.EncodeToString([]byte(w))
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			return Request{}, fmt.Errorf("notice ID: %w", err)
		}
		req.NoticeID = hex.EncodeToString(id[:])
		if req.WindowCommand, err = scripts.NoticeArguments(req.NoticeID, w); err != nil {
			return Request{}, fmt.Errorf("notice window command: %w", err)
		}
	}
	return req, nil
}

// Deliver shows a message to the users logged on to the host r runs on. With nobody logged
// on it returns Delivered false and the reason NobodyLoggedOn. User names in the result
// come from the client; they are cleaned to one plain line each.
func Deliver(ctx context.Context, r client.Runner, m Message) (Result, error) {
	req, err := NewRequest(m)
	if err != nil {
		return Result{}, err
	}
	var out Result
	if err := r.Run(ctx, ScriptNotify, req, &out); err != nil {
		return Result{}, err
	}
	users := make([]string, 0, len(out.Users))
	for _, u := range out.Users {
		if u = strings.TrimSpace(PlainLine(u)); u != "" {
			users = append(users, u)
		}
	}
	out.Users = users
	out.Reason = PlainLine(out.Reason)
	if out.Delivered && len(users) == 0 {
		out.Delivered, out.Reason = false, "no user named in the answer"
	}
	if !out.Delivered && out.Reason == "" {
		out.Reason = "not delivered"
	}
	return out, nil
}
