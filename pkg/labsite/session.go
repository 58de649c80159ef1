package labsite

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/lab/labprovider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/session"
	"github.com/patchnight/patchnight/pkg/wol"
)

// SessionOptions describe the profile a lab session stands for.
type SessionOptions struct {
	SiteCode    string
	StateDir    string        // the journal's folder
	Concurrency int           // hosts at once (winrm.concurrency)
	Retries     int           // winrm.retries
	HostTimeout time.Duration // per host and attempt (winrm.operation_timeout)
	DNSSuffix   string        // winrm.dns_suffix
	Log         *slog.Logger
}

// NewSession returns a session wired to the running lab site: its database, its WS-Man
// endpoint for every host and for the SMS Provider (ProviderHost), its Wake-on-LAN
// listener, and the lab's clock (a simulated one when the site has one: sleeping advances
// it, see LabClock). The caller closes the session before the site.
func (s *Site) NewSession(o SessionOptions) *session.Session {
	rc := s.RemoteConfig()
	var p config.Profile
	p.SQL = "sqlite:" + s.Path
	p.SiteCode, p.StateDir, p.Provider = o.SiteCode, o.StateDir, ProviderHost
	p.WinRM.Concurrency, p.WinRM.Retries, p.WinRM.DNSSuffix = o.Concurrency, o.Retries, o.DNSSuffix
	p.WinRM.OperationTimeout = config.Duration(o.HostTimeout)
	opt := session.Options{
		Profile:     p,
		Remote:      &rc,
		Credentials: func() (remote.Credentials, error) { return s.Credentials(), nil },
		Log:         o.Log,
		WrapWake:    func(c net.PacketConn) wol.PacketConn { return s.Wake.Redirect(c) },
	}
	if s.clock != nil {
		opt.Clock = &LabClock{c: s.clock, site: s}
	}
	return session.New(opt)
}

// LabClock is a night's clock on the lab: sleeping moves the lab's simulated clock, lets
// restarted machines come back, and re-evaluates the lab's collections, as time would.
type LabClock struct {
	c           *Clock
	site        *Site
	lastRefresh time.Time
}

// Now is the lab's simulated time.
func (l *LabClock) Now() time.Time { return l.c.Now() }

// Sleep advances the simulated clock by d and lets the site catch up (Settle).
func (l *LabClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.c.Advance(d)
	return l.Settle(ctx)
}

// Settle brings restarted machines back, lets the lab's working day begin (users log on,
// laptops arrive), and, at most every simulated hour as a site's incremental evaluation
// would, re-evaluates the lab's collections.
func (l *LabClock) Settle(ctx context.Context) error {
	if err := l.site.Sim.Tick(ctx); err != nil {
		return err
	}
	if err := l.site.Morning(ctx); err != nil {
		return err
	}
	now := l.c.Now()
	if now.Sub(l.lastRefresh) < time.Hour {
		return nil
	}
	l.lastRefresh = now
	_, err := labprovider.Refresh(ctx, l.site.DB, now)
	return err
}
