package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// TLS modes of the SMTP connection.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, refused if the server does not offer it (default)
	TLSImplicit = "implicit" // TLS from the first byte (SMTPS, port 465)
	TLSNone     = "none"     // no TLS at all: only for a relay on the same host or a test server
)

// MailConfig is how the mail goes out.
type MailConfig struct {
	Server   string   // SMTP host
	Port     int      // 0 = 587 (starttls), 465 (implicit) or 25 (none)
	TLS      string   // starttls (default), implicit, none
	From     string   // sender address
	To       []string // recipients
	User     string   // SMTP user; "" = no authentication
	Password string   // from a credential file or an environment variable, never from a flag
	CAFile   string   // PEM bundle to verify the server's certificate; "" = the system's
	Timeout  time.Duration
}

// Validate refuses settings that cannot work or that would leak the password.
func (c MailConfig) Validate() error {
	switch {
	case c.Server == "":
		return ErrNotConfigured
	case c.From == "":
		return fmt.Errorf("mail: set mail.from, the sender address")
	case len(c.To) == 0:
		return fmt.Errorf("mail: set mail.to, the recipients")
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return fmt.Errorf("mail: tls %q is not starttls, implicit or none", c.TLS)
	}
	if c.TLS == TLSNone && c.User != "" {
		return fmt.Errorf("mail: authentication without TLS would send the password in clear text; use tls: starttls or implicit")
	}
	if c.User != "" && c.Password == "" {
		return fmt.Errorf("mail: user %s has no password (set mail.password_env or mail.credential_file)", c.User)
	}
	return nil
}

// Mailer sends messages over SMTP.
type Mailer struct{ cfg MailConfig }

// NewMailer checks cfg and returns a mailer.
func NewMailer(cfg MailConfig) (*Mailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Mailer{cfg: cfg}, nil
}

// Name is "mail".
func (*Mailer) Name() string { return "mail" }

// Send builds the message (HTML inline with a text alternative, the JSON attached) and
// delivers it in one SMTP session.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	c := m.cfg
	opts := []mail.Option{mail.WithTimeout(c.Timeout)}
	port := c.Port
	switch c.TLS {
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
		if port == 0 {
			port = 465
		}
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
		if port == 0 {
			port = 25
		}
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
		if port == 0 {
			port = 587
		}
	}
	opts = append(opts, mail.WithPort(port))
	if c.TLS != TLSNone {
		tc := &tls.Config{ServerName: c.Server, MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return wrap("mail", fmt.Errorf("read ca_file: %w", err))
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return wrap("mail", fmt.Errorf("ca_file %s holds no PEM certificate", c.CAFile))
			}
			tc.RootCAs = pool
		}
		opts = append(opts, mail.WithTLSConfig(tc))
	}
	if c.User != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(c.User), mail.WithPassword(c.Password))
	}
	client, err := mail.NewClient(c.Server, opts...)
	if err != nil {
		return wrap("mail", err)
	}
	em := mail.NewMsg()
	if err := em.From(c.From); err != nil {
		return wrap("mail", fmt.Errorf("from: %w", err))
	}
	if err := em.To(c.To...); err != nil {
		return wrap("mail", fmt.Errorf("to: %w", err))
	}
	em.Subject(oneLine(msg.Subject))
	if msg.At.IsZero() {
		em.SetDate()
	} else {
		em.SetDateWithValue(msg.At)
	}
	if len(msg.HTML) > 0 {
		em.SetBodyString(mail.TypeTextPlain, msg.Text)
		em.AddAlternativeString(mail.TypeTextHTML, string(msg.HTML))
	} else {
		em.SetBodyString(mail.TypeTextPlain, msg.Text)
	}
	if len(msg.JSON) > 0 {
		name := msg.JSONName
		if name == "" {
			name = string(msg.Kind) + ".json"
		}
		if err := em.AttachReader(name, bytes.NewReader(msg.JSON), mail.WithFileContentType("application/json")); err != nil {
			return wrap("mail", fmt.Errorf("attach %s: %w", name, err))
		}
	}
	if err := client.DialAndSendWithContext(ctx, em); err != nil {
		return wrap("mail", err)
	}
	return nil
}

// SplitList splits a comma- or semicolon-separated list of addresses or names.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
