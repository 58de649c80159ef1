package main

import (
	"github.com/patchnight/patchnight/pkg/alert"
	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/remote"
)

// alerts builds the night's alert dispatcher from the profile's mail and webhook settings
// and, on Windows, the Application event log. Settings that cannot work (a password or a
// URL that cannot be read) are refused before the night starts; a delivery that fails
// during the night is only logged. The dispatcher holds no channel when none is set.
func (a *App) alerts(p config.Profile) (*alert.Dispatcher, error) {
	d := &alert.Dispatcher{Log: a.Logger()}
	if p.Mail.Server != "" {
		cfg := alert.MailConfig{Server: p.Mail.Server, Port: p.Mail.Port, TLS: p.Mail.TLS, From: p.Mail.From,
			To: p.Mail.MailTo(), User: p.Mail.User, CAFile: p.Mail.CAFile, Timeout: p.Mail.Timeout.Std()}
		if cfg.User != "" {
			pw, err := a.secret("mail", p.Mail.PasswordEnv, p.Mail.CredentialFile)
			if err != nil {
				return nil, err
			}
			cfg.Password = pw
		}
		m, err := alert.NewMailer(cfg)
		if err != nil {
			return nil, exit.Wrap(exit.Usage, err, "check the mail settings (patchnight config show)", "mail")
		}
		d.Sinks = append(d.Sinks, m)
	}
	if p.Webhook.URLEnv != "" || p.Webhook.URLFile != "" {
		u, err := a.secret("webhook", p.Webhook.URLEnv, p.Webhook.URLFile)
		if err != nil {
			return nil, err
		}
		w, err := alert.NewWebhook(alert.WebhookConfig{URL: u, Format: p.Webhook.Format})
		if err != nil {
			return nil, exit.Wrap(exit.Usage, err, "check webhook.url_env or webhook.url_file", "webhook")
		}
		d.Sinks = append(d.Sinks, w)
	}
	ev, err := alert.OpenEventLog()
	if err != nil {
		a.Logger().Warn("the Windows event log is not written", "error", err)
	} else if ev != nil {
		d.Events = ev
	}
	return d, nil
}

// secret reads a password or a webhook URL from the environment variable env or the file
// (first line, or {"password": ...}; readable by its owner only), as for WinRM.
func (a *App) secret(what, env, file string) (string, error) {
	switch {
	case env != "" && a.Getenv(env) != "":
		return a.Getenv(env), nil
	case file != "":
		c, err := remote.CredentialsFromFile("", file)
		if err != nil {
			return "", exit.Wrap(exit.Usage, err, "check "+what+".credential_file / url_file", "%s", what)
		}
		return c.Password, nil
	case env != "":
		return "", exit.Usagef("export "+env+", or name a file", "%s: the environment variable %s is not set or empty", what, env)
	}
	return "", exit.Usagef("set "+what+".password_env or "+what+".credential_file (webhook: url_env or url_file)", "%s: no secret configured", what)
}
