// Package session is patchnight's composition root: from an effective profile it opens, on
// first use, what a command acts through (the site database, the journal, the WinRM
// connector and the Hosts that turn a machine name into a client runner, the SMS Provider,
// the Wake-on-LAN transports, the clock and the logger) and closes what it opened, last
// opened first. Every command gets its environment from a Session; the lab builds the same
// type wired to a running lab site (labsite.NewSession), for the demo and the tests.
package session

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/runner"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
)

// Options configure a Session. Only Profile is required.
type Options struct {
	// Profile is the effective profile: the site database, state folder, WinRM, provider,
	// Wake-on-LAN settings.
	Profile config.Profile
	// Credentials finds the WinRM credentials; called once, when the connector is first
	// needed. nil: no credentials (the current Windows logon).
	Credentials func() (remote.Credentials, error)
	// Remote, when set, is used instead of the profile's winrm settings (the lab's
	// endpoint). The profile's dns_suffix and retries still apply.
	Remote *remote.Config
	// Clock is the runner's clock; nil: the wall clock.
	Clock runner.Clock
	// Now is the journal's and the notices' clock; nil: Clock.Now.
	Now func() time.Time
	// Log receives the session's and the commands' log lines; nil: discarded.
	Log *slog.Logger
	// WrapWake, when set, wraps the Wake-on-LAN socket (the lab redirects broadcasts to
	// its listener).
	WrapWake func(net.PacketConn) wol.PacketConn
	// SkipSiteCheck opens the site database without checking that it is a site's (doctor
	// says what is missing itself).
	SkipSiteCheck bool
}

// Session holds what a command opened. Its methods open on first use and return the same
// thing afterwards; Close releases everything. A Session is safe for concurrent use.
type Session struct {
	opt Options

	mu      sync.Mutex
	closers []func()
	db      *site.DB
	j       *journal.DB
	k       *remote.Connector
	prov    *provider.Provider
	conn    wol.PacketConn
}

// New returns a Session for the options; it opens nothing yet.
func New(opt Options) *Session {
	if opt.Clock == nil {
		opt.Clock = runner.RealClock{}
	}
	if opt.Now == nil {
		opt.Now = opt.Clock.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Session{opt: opt}
}

// Profile is the session's effective profile.
func (s *Session) Profile() config.Profile { return s.opt.Profile }

// Clock is the runner's clock.
func (s *Session) Clock() runner.Clock { return s.opt.Clock }

// Now is the journal's and the notices' clock.
func (s *Session) Now() time.Time { return s.opt.Now() }

// Log is the session's logger.
func (s *Session) Log() *slog.Logger { return s.opt.Log }

// Close releases everything the session opened, last opened first.
func (s *Session) Close() {
	s.mu.Lock()
	closers := s.closers
	s.closers = nil
	s.db, s.j, s.k, s.prov, s.conn = nil, nil, nil, nil, nil
	s.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

// Site opens the site database (and checks that it is one, unless SkipSiteCheck).
func (s *Session) Site(ctx context.Context) (*site.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		return s.db, nil
	}
	db, err := site.Open(ctx, s.opt.Profile.SQL)
	if err != nil {
		return nil, err
	}
	if !s.opt.SkipSiteCheck {
		if err := db.Check(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	s.opt.Log.Debug("site database open", "dsn", db.String())
	s.db = db
	s.closers = append(s.closers, func() { db.Close() })
	return db, nil
}

// Journal opens the journal in the profile's state folder.
func (s *Session) Journal(ctx context.Context) (*journal.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.j != nil {
		return s.j, nil
	}
	j, err := journal.OpenWith(ctx, s.opt.Profile.StateDir, journal.Options{Now: s.opt.Now})
	if err != nil {
		return nil, err
	}
	s.j = j
	s.closers = append(s.closers, func() { j.Close() })
	return j, nil
}

// Connector opens the WinRM connector (and logs in to Kerberos once, when it is used).
func (s *Session) Connector(ctx context.Context) (*remote.Connector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connector(ctx)
}

func (s *Session) connector(ctx context.Context) (*remote.Connector, error) {
	if s.k != nil {
		return s.k, nil
	}
	var creds remote.Credentials
	if s.opt.Credentials != nil {
		c, err := s.opt.Credentials()
		if err != nil {
			return nil, err
		}
		creds = c
	}
	cfg := RemoteConfig(s.opt.Profile.WinRM)
	if s.opt.Remote != nil {
		cfg = *s.opt.Remote
	}
	k, err := remote.NewConnector(cfg, creds)
	if err != nil {
		return nil, err
	}
	// Kerberos logs in once, here: a wrong password or an unknown principal is one line
	// and exit 77, not the same failure on every host.
	if err := k.Login(ctx); err != nil {
		k.Close()
		return nil, err
	}
	s.k = k
	s.closers = append(s.closers, func() { k.Close() })
	return k, nil
}

// Hosts returns the machines' runners over the session's connector.
func (s *Session) Hosts(ctx context.Context) (*Hosts, error) {
	k, err := s.Connector(ctx)
	if err != nil {
		return nil, err
	}
	return &Hosts{k: k, suffix: s.opt.Profile.WinRM.DNSSuffix, retries: s.opt.Profile.WinRM.Retries}, nil
}

// HasProvider says whether the profile names an SMS Provider (and a site code).
func (s *Session) HasProvider() bool {
	return s.opt.Profile.Provider != "" && s.opt.Profile.SiteCode != ""
}

// Provider connects to the profile's SMS Provider host.
func (s *Session) Provider(ctx context.Context) (*provider.Provider, error) {
	p := s.opt.Profile
	if p.Provider == "" {
		return nil, exit.Usagef("set provider (the SMS Provider host, usually the site server) in the profile", "no SMS Provider configured")
	}
	if p.SiteCode == "" {
		return nil, exit.Usagef("set site_code in the profile", "no site code configured")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prov != nil {
		return s.prov, nil
	}
	k, err := s.connector(ctx)
	if err != nil {
		return nil, err
	}
	// The provider has its own time limit, far longer than a client action's.
	limit := p.WinRM.ProviderTimeout.Std()
	if limit <= 0 {
		limit = provider.DefaultTimeout
	}
	c, err := k.ClientTimeout(p.Provider, limit)
	if err != nil {
		return nil, err
	}
	prov, err := provider.NewWithOptions(c, p.SiteCode, provider.Options{Timeout: limit})
	if err != nil {
		c.Close()
		return nil, err
	}
	s.prov = prov
	s.closers = append(s.closers, func() { c.Close() })
	return prov, nil
}

// OptionalProvider is Provider when the profile names one, else nil.
func (s *Session) OptionalProvider(ctx context.Context) (*provider.Provider, error) {
	if !s.HasProvider() {
		return nil, nil
	}
	return s.Provider(ctx)
}

// WakeConn opens the Wake-on-LAN socket.
func (s *Session) WakeConn(ctx context.Context) (wol.PacketConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn, nil
	}
	conn, err := wol.Listen(ctx)
	if err != nil {
		return nil, exit.Wrap(exit.Failed, err, "", "open the Wake-on-LAN socket")
	}
	s.closers = append(s.closers, func() { conn.Close() })
	s.conn = conn
	if s.opt.WrapWake != nil {
		s.conn = s.opt.WrapWake(conn)
	}
	return s.conn, nil
}

// RemoteConfig turns the profile's winrm settings into a remote.Config; winrm.connect_to
// sends every connection to one address.
func RemoteConfig(w config.WinRM) remote.Config {
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if w.ConnectTo != "" {
		to := w.ConnectTo
		dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, to)
		}
	}
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
