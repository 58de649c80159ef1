package alert_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/internal/smtptest"
	"github.com/patchnight/patchnight/pkg/alert"
)

// part is one leaf of a MIME message.
type part struct {
	ctype, disposition, filename string
	body                         []byte
}

// parts walks a received message into its leaf parts, decoded.
func parts(t *testing.T, m *mail.Message) []part {
	t.Helper()
	var out []part
	var walk func(h map[string][]string, r io.Reader)
	walk = func(h map[string][]string, r io.Reader) {
		get := func(k string) string {
			if v := h[k]; len(v) > 0 {
				return v[0]
			}
			return ""
		}
		ct, params, err := mime.ParseMediaType(get("Content-Type"))
		if err != nil {
			ct = "text/plain"
		}
		if strings.HasPrefix(ct, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("read MIME part: %v", err)
				}
				walk(p.Header, p)
			}
		}
		var body []byte
		switch strings.ToLower(get("Content-Transfer-Encoding")) {
		case "base64":
			body, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, &stripNL{r: r}))
		case "quoted-printable":
			body, err = io.ReadAll(quotedprintable.NewReader(r))
		default:
			body, err = io.ReadAll(r)
		}
		if err != nil {
			t.Fatalf("decode %s part: %v", ct, err)
		}
		disp, dp, _ := mime.ParseMediaType(get("Content-Disposition"))
		out = append(out, part{ctype: ct, disposition: disp, filename: dp["filename"], body: body})
	}
	walk(m.Header, m.Body)
	return out
}

// stripNL drops line breaks from base64 text.
type stripNL struct{ r io.Reader }

func (s *stripNL) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

func reportMessage() alert.Message {
	return alert.Message{Kind: alert.KindReport, Subject: "patchnight 2026-12: 91.2% patched",
		Text: "91.2% patched (1812 of 1984)", HTML: []byte("<html><body><h1>Morning report</h1></body></html>"),
		JSON: []byte(`{"patched":1812,"eligible":1984}`), JSONName: "morning-2026-12.json",
		At: time.Date(2026, 12, 9, 7, 0, 0, 0, time.UTC)}
}

func TestMailDelivery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		server string // smtptest mode
		tls    string // client setting
		ca     bool   // give the server's certificate as ca_file
		ok     bool
	}{
		{"plain by setting", smtptest.Plain, alert.TLSNone, false, true},
		{"starttls", smtptest.StartTLS, alert.TLSStartTLS, true, true},
		{"starttls is the default", smtptest.StartTLS, "", true, true},
		{"implicit tls", smtptest.Implicit, alert.TLSImplicit, true, true},
		{"the default never falls back to plain", smtptest.Plain, "", false, false},
		{"certificates are verified", smtptest.StartTLS, alert.TLSStartTLS, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, tc.server)
			cfg := alert.MailConfig{Server: srv.Host, Port: srv.Port, TLS: tc.tls, From: "patchnight@example.org",
				To: []string{"desktop-team@example.org", "oncall@example.org"}, Timeout: 20 * time.Second}
			if tc.ca {
				cfg.CAFile = srv.CAFile
			}
			m, err := alert.NewMailer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = m.Send(context.Background(), reportMessage())
			if !tc.ok {
				if err == nil {
					t.Fatal("the mail went out; it should have been refused")
				}
				if n := len(srv.Messages(t)); n != 0 {
					t.Errorf("the server received %d messages", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages(t)
			if len(msgs) != 1 {
				t.Fatalf("the server received %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if s := got.Header.Get("Subject"); s != "patchnight 2026-12: 91.2% patched" {
				t.Errorf("Subject = %q", s)
			}
			if to := got.Header.Get("To"); !strings.Contains(to, "desktop-team@example.org") || !strings.Contains(to, "oncall@example.org") {
				t.Errorf("To = %q", to)
			}
			var html, js *part
			ps := parts(t, got)
			for i := range ps {
				switch {
				case ps[i].ctype == "text/html":
					html = &ps[i]
				case ps[i].ctype == "application/json":
					js = &ps[i]
				}
			}
			if html == nil || html.disposition == "attachment" || !bytes.Contains(html.body, []byte("<h1>Morning report</h1>")) {
				t.Errorf("no inline HTML report in %+v", ps)
			}
			if js == nil || js.disposition != "attachment" || js.filename != "morning-2026-12.json" || !json.Valid(js.body) ||
				!bytes.Contains(js.body, []byte(`"patched":1812`)) {
				t.Errorf("no JSON attachment in %+v", ps)
			}
		})
	}
}

func TestMailSettingsRefused(t *testing.T) {
	t.Parallel()
	base := alert.MailConfig{Server: "smtp.example.org", From: "a@example.org", To: []string{"b@example.org"}}
	cases := []struct {
		name string
		edit func(*alert.MailConfig)
		want string
	}{
		{"password in clear", func(c *alert.MailConfig) { c.TLS, c.User, c.Password = alert.TLSNone, "svc", "pw" }, "clear text"},
		{"user without password", func(c *alert.MailConfig) { c.User = "svc" }, "no password"},
		{"no recipients", func(c *alert.MailConfig) { c.To = nil }, "mail.to"},
		{"unknown tls", func(c *alert.MailConfig) { c.TLS = "ssl3" }, "not starttls"},
	}
	for _, tc := range cases {
		c := base
		tc.edit(&c)
		if _, err := alert.NewMailer(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewMailer = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := alert.NewMailer(alert.MailConfig{}); err != alert.ErrNotConfigured {
		t.Errorf("empty settings: %v, want ErrNotConfigured", err)
	}
}

// hook is a loopback webhook receiver that fails the first fail requests with 503.
type hook struct {
	mu     sync.Mutex
	fail   int
	bodies [][]byte
	types  []string
	calls  int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.calls <= h.fail {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	h.bodies = append(h.bodies, b)
	h.types = append(h.types, r.Header.Get("Content-Type"))
}

func TestWebhookFormats(t *testing.T) {
	t.Parallel()
	halt := alert.Message{Kind: alert.KindHalt, Subject: "patchnight HALTED the night", Text: "7 of 20 restarted machines are not back",
		JSON: []byte(`{"reason":"not back"}`), At: time.Date(2026, 12, 8, 20, 40, 0, 0, time.UTC)}
	cases := []struct {
		format string
		check  func(t *testing.T, doc map[string]any)
	}{
		{"", func(t *testing.T, doc map[string]any) {
			if doc["kind"] != "halt" || doc["subject"] != halt.Subject || doc["data"].(map[string]any)["reason"] != "not back" {
				t.Errorf("json body %v", doc)
			}
		}},
		{alert.FormatSlack, func(t *testing.T, doc map[string]any) {
			if s, _ := doc["text"].(string); !strings.Contains(s, halt.Subject) || !strings.Contains(s, halt.Text) {
				t.Errorf("slack body %v", doc)
			}
		}},
		{alert.FormatTeams, func(t *testing.T, doc map[string]any) {
			att, _ := doc["attachments"].([]any)
			if doc["type"] != "message" || len(att) != 1 {
				t.Fatalf("teams body %v", doc)
			}
			a := att[0].(map[string]any)
			card := a["content"].(map[string]any)
			b, _ := json.Marshal(card)
			if a["contentType"] != "application/vnd.microsoft.card.adaptive" || card["type"] != "AdaptiveCard" ||
				!strings.Contains(string(b), halt.Text) {
				t.Errorf("teams card %s", b)
			}
		}},
	}
	for _, tc := range cases {
		t.Run("format="+tc.format, func(t *testing.T) {
			t.Parallel()
			h := &hook{}
			srv := httptest.NewServer(h)
			defer srv.Close()
			w, err := alert.NewWebhook(alert.WebhookConfig{URL: srv.URL + "/hooks/SECRET-TOKEN", Format: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Send(context.Background(), halt); err != nil {
				t.Fatal(err)
			}
			if len(h.bodies) != 1 || h.types[0] != "application/json" {
				t.Fatalf("received %d bodies (%v)", len(h.bodies), h.types)
			}
			var doc map[string]any
			if err := json.Unmarshal(h.bodies[0], &doc); err != nil {
				t.Fatal(err)
			}
			tc.check(t, doc)
		})
	}
}

// TestDeliveryRetriedNeverFatal: a webhook that fails twice gets the message on the third
// try; a mail server that is not there costs only log lines; no error reaches the caller,
// and no log line carries the webhook's token.
func TestDeliveryRetriedNeverFatal(t *testing.T) {
	t.Parallel()
	h := &hook{fail: 2}
	srv := httptest.NewServer(h)
	defer srv.Close()
	w, err := alert.NewWebhook(alert.WebhookConfig{URL: srv.URL + "/hooks/SECRET-TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := dead.Listener.Addr().String()
	dead.Close() // nothing listens there now
	host, port := splitHostPort(t, deadAddr)
	m, err := alert.NewMailer(alert.MailConfig{Server: host, Port: port, TLS: alert.TLSNone, From: "a@example.org",
		To: []string{"b@example.org"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var slept []time.Duration
	var mu sync.Mutex
	d := &alert.Dispatcher{Sinks: []alert.Sink{m, w}, Tries: 3, Backoff: time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			slept = append(slept, d)
			mu.Unlock()
			return nil
		},
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	if n := d.Send(context.Background(), reportMessage()); n != 1 {
		t.Errorf("delivered to %d channels, want 1 (the webhook)", n)
	}
	if len(h.bodies) != 1 || h.calls != 3 {
		t.Errorf("webhook: %d calls, %d delivered; want 3 calls, 1 delivered", h.calls, len(h.bodies))
	}
	if len(slept) != 4 || slept[0] != time.Second || slept[1] != 2*time.Second {
		t.Errorf("waits between attempts %v, want 1s 2s for each channel", slept)
	}
	out := logs.String()
	if !strings.Contains(out, "alert not delivered") || !strings.Contains(out, "channel=mail") {
		t.Errorf("the failed mail is not logged:\n%s", out)
	}
	if strings.Contains(out, "SECRET-TOKEN") {
		t.Errorf("a log line carries the webhook URL's token:\n%s", out)
	}
}

func TestWebhookErrorHidesURL(t *testing.T) {
	t.Parallel()
	w, err := alert.NewWebhook(alert.WebhookConfig{URL: "http://127.0.0.1:1/hooks/SECRET-TOKEN", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Send(context.Background(), reportMessage())
	if err == nil || strings.Contains(err.Error(), "SECRET-TOKEN") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %v: want the host, never the URL", err)
	}
	if _, err := alert.NewWebhook(alert.WebhookConfig{URL: "ftp://x/SECRET-TOKEN"}); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("bad URL error %v", err)
	}
}
