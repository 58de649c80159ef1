package main

import (
	"context"
	"os"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/session"
	"github.com/patchnight/patchnight/pkg/site"
)

// Session opens, on first use, what a command acts through for the effective profile
// (pkg/session). The caller closes it.
func (a *App) Session() (*session.Session, error) { return a.SessionWith(nil) }

// SessionWith is Session with options adjusted by tune (nil: none).
func (a *App) SessionWith(tune func(*session.Options)) (*session.Session, error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	w := cfg.Profile.WinRM
	o := session.Options{
		Profile:     cfg.Profile,
		Credentials: func() (remote.Credentials, error) { return a.credentials(w) },
		Now:         a.Now,
		Log:         a.Logger(),
	}
	if tune != nil {
		tune(&o)
	}
	return session.New(o), nil
}

// credentials finds the WinRM password: the environment variable the profile names, then
// the credential file, then a prompt on a terminal. The current Windows logon (negotiate)
// needs none; Kerberos may use a credential cache instead.
func (a *App) credentials(w config.WinRM) (remote.Credentials, error) {
	switch {
	case w.Auth == "negotiate":
		return remote.Credentials{User: w.User}, nil
	case w.PasswordEnv != "" && a.Getenv(w.PasswordEnv) != "":
		return remote.CredentialsFromEnv(w.User, w.PasswordEnv, a.Getenv)
	case w.CredentialFile != "":
		return remote.CredentialsFromFile(w.User, w.CredentialFile)
	case w.Auth == "kerberos" && w.User == "":
		return remote.Credentials{}, nil
	case w.User == "":
		return remote.Credentials{}, exit.Usagef("set winrm.user (DOMAIN\\user), or use auth: negotiate on Windows",
			"winrm.auth %s needs a user", w.Auth)
	case a.IO.StdinTerminal:
		return remote.CredentialsFromPrompt(w.User, os.Stdin, a.IO.Err)
	}
	hint := "set winrm.password_env to the name of an environment variable holding it, or winrm.credential_file"
	if w.PasswordEnv != "" {
		hint = "set the environment variable " + w.PasswordEnv + ", or winrm.credential_file"
	}
	return remote.Credentials{}, exit.Usagef(hint, "no WinRM password for %s", w.User)
}

// openSite opens a session with open and the session's site database. On error nothing is
// left open; otherwise the caller closes the session.
func openSite(ctx context.Context, open func() (*session.Session, error)) (*session.Session, *site.DB, error) {
	s, err := open()
	if err != nil {
		return nil, nil, err
	}
	db, err := s.Site(ctx)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, db, nil
}
