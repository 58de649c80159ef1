package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Webhook body formats.
const (
	FormatJSON  = "json"  // {"kind", "subject", "text", "at", "data"}
	FormatTeams = "teams" // a message with an Adaptive Card (Teams Workflows "when a webhook request is received")
	FormatSlack = "slack" // {"text": ...} (Slack incoming webhooks)
)

// WebhookConfig is where the webhook posts. The URL usually carries a token: it is never
// logged and never part of an error.
type WebhookConfig struct {
	URL     string
	Format  string // json (default), teams, slack
	Timeout time.Duration
	// Client is the HTTP client; nil = one with TLS verification and Timeout.
	Client *http.Client
}

// Webhook posts messages as JSON.
type Webhook struct {
	cfg  WebhookConfig
	host string
}

// NewWebhook checks cfg and returns a webhook sink.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.URL == "" {
		return nil, ErrNotConfigured
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("webhook: the URL is not an http(s) URL") // the URL itself may be a secret
	}
	switch cfg.Format {
	case "":
		cfg.Format = FormatJSON
	case FormatJSON, FormatTeams, FormatSlack:
	default:
		return nil, fmt.Errorf("webhook: format %q is not json, teams or slack", cfg.Format)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout,
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	}
	return &Webhook{cfg: cfg, host: u.Host}, nil
}

// Name is "webhook".
func (*Webhook) Name() string { return "webhook" }

// Body renders m in the webhook's format.
func (w *Webhook) Body(m Message) ([]byte, error) { return Body(w.cfg.Format, m) }

// Body renders m in format (json, teams, slack).
func Body(format string, m Message) ([]byte, error) {
	switch format {
	case FormatSlack:
		return json.Marshal(map[string]string{"text": "*" + oneLine(m.Subject) + "*\n" + m.Text})
	case FormatTeams:
		card := map[string]any{
			"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"type":    "AdaptiveCard", "version": "1.4",
			"body": []map[string]any{
				{"type": "TextBlock", "text": oneLine(m.Subject), "weight": "Bolder", "size": "Medium", "wrap": true},
				{"type": "TextBlock", "text": m.Text, "wrap": true},
			},
		}
		return json.Marshal(map[string]any{"type": "message", "attachments": []map[string]any{
			{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}}})
	}
	doc := struct {
		Kind    Kind            `json:"kind"`
		Subject string          `json:"subject"`
		Text    string          `json:"text"`
		At      time.Time       `json:"at,omitzero"`
		Data    json.RawMessage `json:"data,omitempty"`
	}{m.Kind, oneLine(m.Subject), m.Text, m.At.UTC(), nil}
	if json.Valid(m.JSON) {
		doc.Data = m.JSON
	}
	return json.Marshal(doc)
}

// Send posts m; any answer but 2xx is an error naming the host and the status only.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	body, err := w.Body(m)
	if err != nil {
		return wrap("webhook", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook to %s: cannot build the request", w.host)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, which may carry a token
		}
		return fmt.Errorf("webhook to %s: %w", w.host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook to %s: answered %s", w.host, resp.Status)
	}
	return nil
}
