package main

import (
	"context"
	"net"
	"os"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
)

// remoteConfig turns the profile's winrm settings into a remote.Config. dial, when not nil,
// opens every connection (the demo sends every host to the lab's endpoint this way).
func remoteConfig(w config.WinRM, dial func(ctx context.Context, network, addr string) (net.Conn, error)) remote.Config {
	return remote.Config{
		HTTP:             !w.HTTPS,
		Port:             w.Port,
		CAFile:           w.CAFile,
		TLSServerName:    w.ServerName,
		Insecure:         w.Insecure,
		Auth:             remote.Auth(w.Auth),
		NTLMEncryption:   w.NTLMEncryption,
		ConnectTimeout:   w.ConnectTimeout.Std(),
		OperationTimeout: w.OperationTimeout.Std(),
		Kerberos:         remote.KerberosConfig{Realm: w.Realm, Krb5Conf: w.Krb5Conf, CCache: w.KrbCCache, SPN: w.SPN},
		Dial:             dial,
	}
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

// Connector builds the WinRM connector of the effective profile.
func (a *App) Connector() (*remote.Connector, error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	creds, err := a.credentials(cfg.Profile.WinRM)
	if err != nil {
		return nil, err
	}
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if cfg.Profile.WinRM.ConnectTo != "" {
		to := cfg.Profile.WinRM.ConnectTo
		dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, to)
		}
	}
	k, err := remote.NewConnector(remoteConfig(cfg.Profile.WinRM, dial), creds)
	if err != nil {
		return nil, err
	}
	// Kerberos logs in once, here: a wrong password or an unknown principal is one line
	// and exit 77, not the same failure on every host.
	ctx := context.Background()
	if a.root != nil && a.root.Context() != nil {
		ctx = a.root.Context()
	}
	if err := k.Login(ctx); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// Provider connects to the profile's SMS Provider host.
func (a *App) Provider(ctx context.Context) (*provider.Provider, func(), error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, nil, err
	}
	if cfg.Profile.Provider == "" {
		return nil, nil, exit.Usagef("set provider (the SMS Provider host, usually the site server) in the profile", "no SMS Provider configured")
	}
	if cfg.Profile.SiteCode == "" {
		return nil, nil, exit.Usagef("set site_code in the profile", "no site code configured")
	}
	k, err := a.Connector()
	if err != nil {
		return nil, nil, err
	}
	// The provider has its own time limit, far longer than a client action's.
	limit := cfg.Profile.WinRM.ProviderTimeout.Std()
	if limit <= 0 {
		limit = provider.DefaultTimeout
	}
	c, err := k.ClientTimeout(cfg.Profile.Provider, limit)
	if err != nil {
		k.Close()
		return nil, nil, err
	}
	p, err := provider.NewWithOptions(c, cfg.Profile.SiteCode, provider.Options{Timeout: limit})
	if err != nil {
		c.Close()
		k.Close()
		return nil, nil, err
	}
	return p, func() { c.Close(); k.Close() }, nil
}
