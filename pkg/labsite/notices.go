package labsite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/patchnight/patchnight/scripts"
)

// Notice is one notice the lab recorded as shown to a user.
type Notice struct {
	Host         string    `json:"host"`
	User         string    `json:"user"`
	Method       string    `json:"method"` // msg or window
	Title        string    `json:"title"`
	Text         string    `json:"text"` // as the user reads it, line breaks as LF
	Organisation string    `json:"organisation,omitempty"`
	Contact      string    `json:"contact,omitempty"`
	At           time.Time `json:"at"`
}

// notifyParams is client-notify's parameter object (pkg/notify.Request).
type notifyParams struct {
	Method         string `json:"Method"`
	Title          string `json:"Title"`
	Text           string `json:"Text"`
	Organisation   string `json:"Organisation"`
	Contact        string `json:"Contact"`
	TimeoutSeconds int    `json:"TimeoutSeconds"`
	MsgText        string `json:"MsgText"`
	Payload        string `json:"Payload"`
	WindowScript   string `json:"WindowScript"`
	NoticeID       string `json:"NoticeID"`
	WindowCommand  string `json:"WindowCommand"`
}

// The checks client-notify.ps1 makes before it uses the text.
var (
	labControlRE = regexp.MustCompile(`[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]`)
	labBase64RE  = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`)
)

// notify answers client-notify as a client would, and checks on the way what the real
// script relies on: msg.exe's standard input (MsgText) or the window's payload decodes to
// exactly the Title and Text sent, so what the lab records is what the user would read.
// With nobody logged on, nothing is shown, as on a real client.
func (s *Site) notify(ctx context.Context, host string, params json.RawMessage) (any, error) {
	var p notifyParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fail("bad-parameter", "parameters: %v", err)
	}
	if p.TimeoutSeconds < 10 || p.TimeoutSeconds > 86400 {
		return nil, fail("bad-parameter", "TimeoutSeconds must be a whole number from 10 to 86400")
	}
	text, title := p.Text, p.Title
	switch p.Method {
	case "msg":
		if p.MsgText == "" || len([]rune(p.MsgText)) > 2400 || labControlRE.MatchString(p.MsgText) {
			return nil, fail("bad-parameter", "MsgText is empty, too long or holds control characters")
		}
		// msg.exe shows its standard input: the title, a blank line, the text.
		shown := strings.ReplaceAll(p.MsgText, "\r\n", "\n")
		if shown != title+"\n\n"+text {
			return nil, fail("bad-parameter", "MsgText does not say what Title and Text say")
		}
	case "window":
		if len(p.Payload) > 16000 || !labBase64RE.MatchString(p.Payload) {
			return nil, fail("bad-parameter", "Payload is not base64 of a notice")
		}
		script, err := base64.StdEncoding.DecodeString(p.WindowScript)
		if err != nil || !bytes.HasPrefix(script, []byte("# patchnight-op: notice-window/")) {
			return nil, fail("bad-parameter", "WindowScript is not the notice window script")
		}
		// The task client-notify registers runs WindowCommand: it must be the launcher of
		// this notice and this window script, started by -EncodedCommand (no -File, no
		// -ExecutionPolicy), within the command-line limit.
		launcher, err := scripts.ParseNoticeArguments(p.WindowCommand)
		if err != nil || len(scripts.NoticeProgram)+1+len(p.WindowCommand) > scripts.MaxCommandLine {
			return nil, fail("bad-parameter", "WindowCommand is not the notice launcher")
		}
		sum := sha256.Sum256(script)
		want, err := scripts.NoticeLauncher(p.NoticeID, hex.EncodeToString(sum[:]))
		if err != nil || launcher != want || strings.Contains(p.WindowCommand, "-File") || strings.Contains(p.WindowCommand, "-ExecutionPolicy") {
			return nil, fail("bad-parameter", "WindowCommand does not launch this notice with this window script")
		}
		raw, err := base64.StdEncoding.DecodeString(p.Payload)
		if err != nil {
			return nil, fail("bad-parameter", "Payload: %v", err)
		}
		var w struct{ Title, Text, Organisation, Contact string }
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fail("bad-parameter", "Payload is not a notice: %v", err)
		}
		if w.Title != title || strings.ReplaceAll(w.Text, "\r\n", "\n") != text || w.Organisation != p.Organisation || w.Contact != p.Contact {
			return nil, fail("bad-parameter", "Payload does not say what Title and Text say")
		}
	default:
		return nil, fail("bad-parameter", "unknown method: %s", p.Method)
	}
	sessions, err := s.Sim.LoggedOn(ctx, host)
	if err != nil {
		return nil, err
	}
	h, err := s.Sim.Host(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(sessions) == 0 {
		return map[string]any{"delivered": false, "reason": "nobody-logged-on", "users": []string{}, "method": p.Method}, nil
	}
	users := []string{}
	s.mu.Lock()
	for _, x := range sessions {
		s.notices = append(s.notices, Notice{Host: h.Name, User: x.User, Method: p.Method, Title: title, Text: text,
			Organisation: p.Organisation, Contact: p.Contact, At: s.Sim.Now()})
		users = append(users, x.User)
	}
	s.mu.Unlock()
	return map[string]any{"delivered": true, "users": users, "method": p.Method}, nil
}

// Notices returns the notices recorded so far.
func (s *Site) Notices() []Notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notice(nil), s.notices...)
}

// LogOn makes user the interactive user of a powered-on lab host, as when someone logs on
// at its console (the simulator only logs users off, on a restart). user is DOMAIN\name;
// "" logs the user off.
func (s *Site) LogOn(ctx context.Context, host, user string) error {
	h, err := s.Sim.Host(ctx, host)
	if err != nil {
		return err
	}
	var cur any
	if user != "" {
		cur = user
	}
	r, err := s.DB.ExecContext(ctx, `UPDATE lab_host SET CurrentUser = ?1, LastLogonUser = COALESCE(?1, LastLogonUser)
		WHERE ResourceID = ?2 AND Power = 'on'`, cur, h.ResourceID)
	if err != nil {
		return fmt.Errorf("lab log-on on %s: %w", h.Name, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("lab log-on on %s: the host is off", h.Name)
	}
	return nil
}
