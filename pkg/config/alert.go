package config

import (
	"net/mail"
	"strings"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Mail holds how the morning report and the halts go out by e-mail (issue 16). No mail is
// sent while server is empty. The password comes from the environment variable named by
// password_env or from credential_file (as for WinRM), never from the file itself.
type Mail struct {
	Server         string   `yaml:"server"`          // SMTP host; "" = no mail
	Port           int      `yaml:"port"`            // 0 = 587 (starttls), 465 (implicit), 25 (none)
	TLS            string   `yaml:"tls"`             // starttls (default), implicit, or none
	From           string   `yaml:"from"`            // sender address
	To             string   `yaml:"to"`              // recipients, separated by commas
	User           string   `yaml:"user"`            // SMTP user; "" = no authentication
	PasswordEnv    string   `yaml:"password_env"`    // environment variable holding the SMTP password
	CredentialFile string   `yaml:"credential_file"` // file with the SMTP password, readable by its owner only
	CAFile         string   `yaml:"ca_file"`         // PEM bundle to verify the server's certificate
	Timeout        Duration `yaml:"timeout"`         // one delivery attempt
}

// Webhook holds where the report and the halts are posted (issue 16). The URL of a Teams
// or Slack webhook is a secret: it comes from an environment variable or a file only.
type Webhook struct {
	URLEnv  string `yaml:"url_env"`  // environment variable holding the URL
	URLFile string `yaml:"url_file"` // file holding the URL on its first line, readable by its owner only
	Format  string `yaml:"format"`   // json (default), teams, slack
}

func (m Mail) validate() error {
	switch m.TLS {
	case "", "starttls", "implicit", "none":
	default:
		return exit.Usagef("use starttls (the default), implicit, or none", "mail.tls %q is not known", m.TLS)
	}
	if m.Server == "" {
		return nil
	}
	if m.Port < 0 || m.Port > 65535 {
		return exit.Usagef("use 587 (STARTTLS), 465 (implicit TLS) or leave it out", "mail.port %d is not a port", m.Port)
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		return exit.Usagef("set mail.from to the sender's address", "mail.from %q is not an e-mail address", m.From)
	}
	to := splitList(m.To)
	if len(to) == 0 {
		return exit.Usagef("set mail.to to the recipients, separated by commas", "mail.to is empty")
	}
	for _, a := range to {
		if _, err := mail.ParseAddress(a); err != nil {
			return exit.Usagef("separate the recipients with commas", "mail.to: %q is not an e-mail address", a)
		}
	}
	if m.User != "" && m.TLS == "none" {
		return exit.Usagef("use tls: starttls or implicit", "mail: authentication without TLS would send the password in clear text")
	}
	return nil
}

func (w Webhook) validate() error {
	switch w.Format {
	case "", "json", "teams", "slack":
	default:
		return exit.Usagef("use json (the default), teams or slack", "webhook.format %q is not known", w.Format)
	}
	if w.URLEnv != "" && w.URLFile != "" {
		return exit.Usagef("keep one of them", "webhook: both url_env and url_file are set")
	}
	return nil
}

// ExcludeList is the profile's exclude setting as a list of collections.
func (p Profile) ExcludeList() []string { return splitList(p.Exclude) }

// MailTo is mail.to as a list.
func (m Mail) MailTo() []string { return splitList(m.To) }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
